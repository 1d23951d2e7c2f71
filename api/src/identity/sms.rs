//! The SMS boundary that sign-in codes go through. The embedded default's sender is a
//! development outbox whose codes are readable at `GET /dev/sms?mobile=` (that route exists only
//! while `SMS_SENDER=outbox`); a deployment plugs a real provider in behind [`SmsSender`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use driver_call_workflows::domain::MobileNumber;
use serde::Serialize;

use super::SetupError;
use super::otp::{CODE_VALIDITY, OneTimeCode};

/// The `SMS_SENDER` of the development outbox (the embedded default).
pub const OUTBOX: &str = "outbox";

/// Messages the outbox keeps, newest last; older ones are dropped.
const OUTBOX_CAPACITY: usize = 1000;

/// A provider that delivers a sign-in code to a mobile number.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync {
    /// Delivers `code` (valid for [`CODE_VALIDITY`]) to `to`.
    async fn send_code(&self, to: &MobileNumber, code: &OneTimeCode) -> Result<(), SmsError>;
}

/// A provider did not take a message.
#[derive(Debug, thiserror::Error)]
#[error("the SMS provider refused the message: {0}")]
pub struct SmsError(pub String);

/// A code the outbox "sent" (`GET /dev/sms` answers with these).
#[derive(Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxMessage {
    /// The number (digits) it went to.
    pub mobile: String,
    /// The code.
    pub code: String,
    /// The text a phone would show.
    pub text: String,
    /// When it was sent (RFC 3339).
    pub sent_at: String,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("mobile", &self.mobile)
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

/// The development sender: keeps the messages in memory, readable by number.
#[derive(Default)]
pub struct OutboxSender {
    messages: Mutex<VecDeque<OutboxMessage>>,
}

impl OutboxSender {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages sent to `mobile`, newest first.
    pub fn messages_to(&self, mobile: &MobileNumber) -> Vec<OutboxMessage> {
        let messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        let to = mobile.as_ref();
        messages
            .iter()
            .rev()
            .filter(|m| m.mobile == to)
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for OutboxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxSender")
    }
}

#[async_trait::async_trait]
impl SmsSender for OutboxSender {
    async fn send_code(&self, to: &MobileNumber, code: &OneTimeCode) -> Result<(), SmsError> {
        let minutes = CODE_VALIDITY.as_secs() / 60;
        let message = OutboxMessage {
            mobile: to.as_ref().to_owned(),
            code: code.as_str().to_owned(),
            text: format!(
                "[Driver-Call] Your sign-in code is {}. It expires in {minutes} minutes.",
                code.as_str()
            ),
            sent_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        };
        let mut messages = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if messages.len() == OUTBOX_CAPACITY {
            messages.pop_front();
        }
        messages.push_back(message);
        Ok(())
    }
}

/// The configured sender, and the outbox when it is the outbox.
#[derive(Clone)]
pub struct SmsSetup {
    /// Where codes go.
    pub sender: Arc<dyn SmsSender>,
    /// The development outbox, when `sender` is it.
    pub outbox: Option<Arc<OutboxSender>>,
}

impl SmsSetup {
    /// The development outbox.
    pub fn outbox() -> Self {
        let outbox = Arc::new(OutboxSender::new());
        Self {
            sender: outbox.clone(),
            outbox: Some(outbox),
        }
    }

    /// The sender `SMS_SENDER` names; only `outbox` is built in, any other name is refused (a
    /// deployment that sends real messages adds its provider here).
    pub fn named(name: &str) -> Result<Self, SetupError> {
        match name.trim() {
            OUTBOX => Ok(Self::outbox()),
            other => Err(SetupError::UnknownSmsSender(other.to_owned())),
        }
    }
}
