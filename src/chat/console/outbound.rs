//! The console as a [`ChatPlatform`]: it stands in for every platform and prints what the
//! outbox would deliver there, rendered from the same cards and texts, so the demo and the
//! console's transcripts show exactly what Slack and Discord receive.

use crate::chat::address::{ChatPlace, ChatUser, Platform};
use crate::chat::platform::{ChatPlatform, Destination, Form, FormTrigger, Opened, Posted};
use crate::chat::render::Card;
use crate::digest::compose::Digest;
use crate::outbox::DeliveryError;
use crate::policy::Directory;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the console printed, shared by the caller's reply and every platform it stands in for.
/// A card identical to the one printed last is not printed again.
#[derive(Debug, Default)]
pub struct Transcript {
    state: Mutex<Printed>,
}

#[derive(Debug, Default)]
struct Printed {
    text: String,
    last_card: Option<String>,
}

impl Transcript {
    fn state(&self) -> std::sync::MutexGuard<'_, Printed> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Prints a line.
    pub fn line(&self, line: &str) {
        let mut s = self.state();
        s.text.push_str(line);
        s.text.push('\n');
    }

    /// Prints `headline`, then the card, or says it is the card above.
    pub fn card(&self, headline: &str, card: &Card) {
        let text = card.to_text();
        let mut s = self.state();
        s.text.push_str(headline);
        if s.last_card.as_deref() == Some(text.as_str()) {
            s.text.push_str(" (the card above)\n");
        } else {
            if !headline.is_empty() {
                s.text.push('\n');
            }
            s.text.push_str(&text);
            s.text.push('\n');
            s.last_card = Some(text);
        }
    }

    /// Everything printed since the last take.
    pub fn take(&self) -> String {
        std::mem::take(&mut self.state().text)
    }
}

/// One platform as the console shows it.
#[derive(Debug)]
pub struct ConsolePlatform {
    platform: Platform,
    directory: Directory,
    transcript: Arc<Transcript>,
    /// Where each "posted" card went, to say which copy an update changes.
    posted: Mutex<HashMap<String, String>>,
    next_id: AtomicU64,
}

impl ConsolePlatform {
    /// Stands in for `platform`, naming people from `directory`, printing to `transcript`.
    pub fn new(platform: Platform, directory: Directory, transcript: Arc<Transcript>) -> Self {
        ConsolePlatform {
            platform,
            directory,
            transcript,
            posted: Mutex::default(),
            next_id: AtomicU64::new(1),
        }
    }

    fn name(&self, user: &ChatUser) -> String {
        match self.directory.by_chat(user) {
            Some(p) => p.name.clone(),
            None => format!("{} user {}", user.platform, user.user),
        }
    }

    fn describe(&self, to: Destination<'_>) -> String {
        match to {
            Destination::Channel(place) => format!("channel {}", place.channel),
            Destination::User(user) => format!("direct message to {}", self.name(user)),
        }
    }
}

#[async_trait]
impl ChatPlatform for ConsolePlatform {
    async fn post_card(
        &self,
        to: Destination<'_>,
        card: &Card,
        preface: Option<&str>,
    ) -> Result<Posted, DeliveryError> {
        let place = self.describe(to);
        let said = preface.map(str::to_owned).unwrap_or_else(|| card.notification());
        self.transcript
            .card(&format!("-> {}, {place}: {said}", self.platform), card);
        let message_id = format!("console-{}", self.next_id.fetch_add(1, Ordering::Relaxed));
        self.posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(message_id.clone(), place.clone());
        Ok(Posted {
            channel: place,
            message_id,
        })
    }

    async fn update_card(&self, copy: &Posted, card: &Card) -> Result<(), DeliveryError> {
        let place = self
            .posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&copy.message_id)
            .cloned()
            .unwrap_or_else(|| format!("channel {}", copy.channel));
        self.transcript
            .card(&format!("-> {}, {place}: the card is updated", self.platform), card);
        Ok(())
    }

    async fn direct(&self, to: &ChatUser, text: &str) -> Result<(), DeliveryError> {
        let name = self.name(to);
        self.transcript
            .line(&format!("-> {}, direct message to {name}: {text}", self.platform));
        Ok(())
    }

    async fn ephemeral(&self, place: &ChatPlace, user: &str, text: &str) -> Result<(), DeliveryError> {
        let to = ChatUser {
            platform: place.platform,
            workspace: place.workspace.clone(),
            user: user.to_owned(),
        };
        let name = self.name(&to);
        self.transcript.line(&format!(
            "-> {}, only {name} sees in channel {}: {text}",
            self.platform, place.channel
        ));
        Ok(())
    }

    async fn post_digest(&self, to: Destination<'_>, digest: &Digest) -> Result<(), DeliveryError> {
        let place = self.describe(to);
        let text = crate::digest::render::text(digest);
        self.transcript
            .line(&format!("-> {}, {place}: the digest\n{text}", self.platform));
        Ok(())
    }

    async fn open_form(&self, _on: FormTrigger<'_>, form: Form<'_>) -> Result<Opened, DeliveryError> {
        // The console has no forms: it says what the form would ask, to be typed as a command.
        let asks = match form {
            Form::NewRequest { workflow, .. } => {
                let names: Vec<&str> = workflow.fields.iter().map(|f| f.name.as_str()).collect();
                format!("a new {} request: {}", workflow.id, names.join(", "))
            }
            Form::RejectReason { r#ref, version } => {
                format!("why {} is rejected", Form::reject_target(r#ref, version))
            }
        };
        self.transcript
            .line(&format!("-> {}, a form asking for {asks}", self.platform));
        Ok(Opened::Shown)
    }

    async fn answer_later(&self, _token: &str, text: &str) -> Result<(), DeliveryError> {
        self.transcript
            .line(&format!("-> {}, the late answer: {text}", self.platform));
        Ok(())
    }
}
