//! How the domain's words are stored: each is a `text` column holding its stable name. The
//! impls live here, not on the domain types, so `approval/` and `chat/address` stay free of
//! sqlx; a row that holds a word this release does not know fails to decode, loudly.

use crate::approval::{Status, VoteKind};
use crate::chat::address::Platform;
use crate::policy::{PersonId, Role};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

/// Stores `$t` as `text` through `$name(self) -> &str` and reads it back with `$parse(&str)`.
macro_rules! text_word {
    ($t:ty, $what:literal, $name:expr, $parse:expr) => {
        impl Type<Postgres> for $t {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $t {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode($name(self), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $t {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Postgres>>::decode(value)?;
                $parse(text).ok_or_else(|| format!("unknown {} {text:?} in the database", $what).into())
            }
        }

        impl PgHasArrayType for $t {
            fn array_type_info() -> PgTypeInfo {
                <&str as PgHasArrayType>::array_type_info()
            }
        }
    };
}

text_word!(Status, "request status", |s: &Status| s.as_str(), |s: &str| s
    .parse::<Status>()
    .ok());
text_word!(VoteKind, "vote kind", |k: &VoteKind| k.as_str(), |s: &str| match s {
    "approve" => Some(VoteKind::Approve),
    "reject" => Some(VoteKind::Reject),
    _ => None,
});
text_word!(Platform, "platform", |p: &Platform| p.as_str(), Platform::parse);
text_word!(PersonId, "person id", PersonId::as_str, |s: &str| PersonId::parse(s)
    .ok());
text_word!(Role, "role", Role::as_str, |s: &str| Role::parse(s).ok());

impl Type<Postgres> for crate::approval::Ref {
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for crate::approval::Ref {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Postgres>>::encode(self.to_string(), buf)
    }
}

impl<'r> Decode<'r, Postgres> for crate::approval::Ref {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Postgres>>::decode(value)?;
        crate::approval::Ref::parse(text).map_err(|_| format!("unknown request ref {text:?} in the database").into())
    }
}
