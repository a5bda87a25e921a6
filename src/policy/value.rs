//! Typed field values: exact money (a decimal at the currency's decimals), text, integers,
//! dates, choices.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// ISO 4217 codes with their number of minor units (decimals). Amounts are kept at exactly
/// this many decimals and stored as integers of minor units, so this table decides how many
/// decimals an input may have.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EGP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NGN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PEN", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TND", 3),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("VND", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("ZAR", 2),
];

/// A currency from the built-in ISO 4217 table, e.g. EUR with 2 minor units.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: String,
    minor_units: u8,
}

impl Currency {
    /// Looks a code up in the built-in table; unknown codes are refused.
    pub fn parse(code: &str) -> Result<Currency, String> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(c, minor_units)| Currency {
                code: c.to_owned(),
                minor_units,
            })
            .ok_or_else(|| format!("`{code}` is not a known ISO 4217 currency code (e.g. EUR, USD, GBP)"))
    }

    /// The ISO code, e.g. `EUR`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Decimals the currency has: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn minor_units(&self) -> u8 {
        self.minor_units
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        Currency::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// Why a text is not an amount of money; messages are written for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not digits with an optional decimal point and thousands separators.
    #[error("is not an amount of money; write e.g. 12500, 12500.00 or 12,500.00")]
    NotANumber,
    /// Amounts are never negative.
    #[error("must not be negative")]
    Negative,
    /// More decimals than the currency has; amounts are never rounded.
    #[error("{}", too_many_decimals(*.allowed))]
    TooManyDecimals {
        /// Decimals the currency allows.
        allowed: u8,
    },
    /// Does not fit.
    #[error("is too large")]
    TooLarge,
}

fn too_many_decimals(allowed: u8) -> String {
    match allowed {
        0 => "has decimals, but this currency has none (amounts are never rounded)".to_owned(),
        1 => "has too many decimals: at most 1 is allowed (amounts are never rounded)".to_owned(),
        n => format!("has too many decimals: at most {n} are allowed (amounts are never rounded)"),
    }
}

/// An exact amount in a currency: a decimal at exactly the currency's number of decimals
/// (2 for EUR), never negative, and within what the store keeps (`i64` minor units).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    /// Always at the currency's scale, so its mantissa is the amount in minor units.
    amount: Decimal,
    currency: Currency,
}

/// The JSON shape of [`Money`]: minor units as an integer, the form every stored request and
/// audit entry already has; checked on the way in.
#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    minor: i64,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = MoneyError;
    fn try_from(r: MoneyRepr) -> Result<Self, MoneyError> {
        Money::from_minor(r.minor, r.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(m: Money) -> MoneyRepr {
        MoneyRepr {
            minor: m.minor(),
            currency: m.currency,
        }
    }
}

impl Money {
    /// Parses "12500", "12500.00" or "12,500.00". Commas are accepted only as thousands
    /// separators in the right places; more decimals than the currency has are refused,
    /// never rounded.
    pub fn parse(text: &str, currency: &Currency) -> Result<Money, MoneyError> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix('-') {
            // Say "negative" only when the rest is a number; "-abc" is just not a number.
            Money::parse(rest, currency)?;
            return Err(MoneyError::Negative);
        }
        let (int_part, frac_part) = match t.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (t, None),
        };
        let digits = integer_digits(int_part).ok_or(MoneyError::NotANumber)?;
        let frac = match frac_part {
            Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => f,
            Some(_) => return Err(MoneyError::NotANumber),
            None => "",
        };
        let allowed = currency.minor_units;
        if frac.len() > usize::from(allowed) {
            return Err(MoneyError::TooManyDecimals { allowed });
        }
        // Leading zeros carry no value but count against the decimal's digits.
        let digits = match digits.trim_start_matches('0') {
            "" => "0",
            significant => significant,
        };
        let exact = if frac.is_empty() {
            Decimal::from_str_exact(digits)
        } else {
            Decimal::from_str_exact(&format!("{digits}.{frac}"))
        };
        // The text is digits by now, so the only way to fail is having too many of them.
        let amount = exact.map_err(|_| MoneyError::TooLarge)?;
        Money::new(amount, currency.clone())
    }

    /// An amount from a decimal: refused when negative, with more decimals than the currency
    /// has (never rounded), or too large for the store.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Money, MoneyError> {
        if amount < Decimal::ZERO {
            return Err(MoneyError::Negative);
        }
        let allowed = currency.minor_units;
        let scale = u32::from(allowed);
        if amount.scale() > scale {
            return Err(MoneyError::TooManyDecimals { allowed });
        }
        if amount > Decimal::from_i128_with_scale(i128::from(i64::MAX), scale) {
            return Err(MoneyError::TooLarge);
        }
        let mut amount = amount;
        // Only ever adds zeros (the scale is at most the currency's), and the bound above
        // keeps the result within 96 bits, so this is exact.
        amount.rescale(scale);
        // "-0" is not below zero but keeps its sign; an amount has none.
        amount.set_sign_positive(true);
        Ok(Money { amount, currency })
    }

    /// An amount from minor units (as stored); negative amounts are refused.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        let scale = u32::from(currency.minor_units);
        let amount = Decimal::try_from_i128_with_scale(i128::from(minor), scale).map_err(|_| MoneyError::TooLarge)?;
        Money::new(amount, currency)
    }

    /// The amount, with exactly the currency's decimals.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The amount in minor units (cents for EUR).
    pub fn minor(&self) -> i64 {
        // `new` keeps the amount at the currency's scale and within i64 minor units, so the
        // fallback is never taken.
        i64::try_from(self.amount.mantissa()).unwrap_or(i64::MAX)
    }

    /// The currency.
    pub fn currency(&self) -> &Currency {
        &self.currency
    }
}

/// The digits of an integer part, checking thousands separators: "12,500" -> "12500".
/// `None` when it is not digits or the commas are misplaced ("1,2345", ",100", "1,,000").
fn integer_digits(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let groups: Vec<&str> = s.split(',').collect();
    let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !groups.iter().all(|g| all_digits(g)) {
        return None;
    }
    if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return None;
    }
    Some(groups.concat())
}

/// Puts a `,` every three digits: "1250000" -> "1,250,000".
fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Money {
    /// "12,500.00 EUR": thousands separators and exactly the currency's decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The amount is at the currency's scale and not negative, so its plain form is the
        // digits, then the point and exactly the currency's decimals when it has any.
        let plain = self.amount.to_string();
        let (units, decimals) = match plain.split_once('.') {
            Some((units, decimals)) => (units, Some(decimals)),
            None => (plain.as_str(), None),
        };
        f.write_str(&group_thousands(units))?;
        if let Some(decimals) = decimals {
            write!(f, ".{decimals}")?;
        }
        write!(f, " {}", self.currency.code)
    }
}

impl PartialOrd for Money {
    /// Ordered by amount within one currency; amounts in different currencies do not compare.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        (self.currency == other.currency).then(|| self.amount.cmp(&other.amount))
    }
}

/// A typed field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    /// `{"money":{"minor":1250000,"currency":"EUR"}}`
    Money(Money),
    /// `{"text":"ACME"}`
    Text(String),
    /// `{"integer":3}`
    Integer(i64),
    /// `{"date":"2026-01-31"}`
    Date(chrono::NaiveDate),
    /// `{"choice":"ops"}`
    Choice(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Money(m) => m.fmt(f),
            Value::Text(s) | Value::Choice(s) => f.write_str(s),
            Value::Integer(i) => i.fmt(f),
            Value::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

/// A request's values by field name.
pub type Fields = BTreeMap<String, Value>;
