//! The payments ledger in the payment context's own database.

use driver_call_workflows::contracts::payment::{ApprovePaymentInput, PaymentStatus, RefundKind};
use driver_call_workflows::domain::{CallId, Krw};
use serde::Serialize;
use sqlx::migrate::Migrator;

use crate::db::{self, Database, StoreError};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/payment");

/// A payment as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentRecord {
    /// The payment's id.
    pub payment_id: String,
    /// The call it pays for.
    pub call_id: String,
    /// The key that makes approval idempotent (`payment:{callId}`).
    pub idempotency_key: String,
    /// The paying customer.
    pub mobile: String,
    /// `CARD` or `CASH`.
    pub pay_type: String,
    /// The amount in KRW.
    pub pay_amount: i64,
    /// `APPROVED`, `REJECTED`, `CANCELLED`, `DISABLED` or `PARTIALLY_REFUNDED`.
    pub status: PaymentStatus,
    /// Why it was rejected, if it was.
    pub reason: Option<String>,
    /// The payment gateway's id of the charge, when one was taken.
    pub charge_id: Option<String>,
    /// The KRW given back by a partial refund (`PARTIALLY_REFUNDED` only).
    pub refunded_amount: Option<i64>,
    /// The KRW kept as a cancellation or no-show fee (`PARTIALLY_REFUNDED` only).
    pub fee: Option<i64>,
    /// When it was first written.
    pub created_at: String,
    /// When its status last changed.
    pub updated_at: String,
}

#[derive(sqlx::FromRow)]
struct PaymentRow {
    payment_id: String,
    call_id: String,
    idempotency_key: String,
    mobile: String,
    pay_type: String,
    pay_amount: i64,
    status: String,
    reason: Option<String>,
    charge_id: Option<String>,
    refunded_amount: Option<i64>,
    fee: Option<i64>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<PaymentRow> for PaymentRecord {
    type Error = StoreError;
    fn try_from(row: PaymentRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: db::parse_stored(&row.status, PaymentStatus::parse)?,
            payment_id: row.payment_id,
            call_id: row.call_id,
            idempotency_key: row.idempotency_key,
            mobile: row.mobile,
            pay_type: row.pay_type,
            pay_amount: row.pay_amount,
            reason: row.reason,
            charge_id: row.charge_id,
            refunded_amount: row.refunded_amount,
            fee: row.fee,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// What the payment step came to, as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Charged by the gateway under this charge id.
    Approved {
        /// The gateway's id of the charge.
        charge_id: Option<String>,
    },
    /// Refused, for this reason; nothing charged.
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A charge the gateway holds although its answer never reached the ledger (it timed out), as the
/// gateway reported it when it was refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnconfirmedCharge {
    /// The call it was taken for.
    pub call_id: String,
    /// The customer charged.
    pub mobile: String,
    /// `CARD` or `CASH`.
    pub pay_type: String,
    /// The amount in KRW.
    pub amount: i64,
    /// The gateway's id of the charge.
    pub charge_id: String,
}

const COLUMNS: &str = "payment_id, call_id, idempotency_key, mobile, pay_type, pay_amount, \
                       status, reason, charge_id, refunded_amount, fee, created_at, updated_at";

/// What a payment worker's circuit breaker last said of the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CircuitReport {
    /// The reporting worker (`pid@host`, as Temporal names it).
    pub worker: String,
    /// The gateway it guards (`builtin` or `http`).
    pub gateway: String,
    /// `closed`, `open` or `half_open`.
    pub circuit: String,
    /// When it reported (RFC 3339).
    pub reported_at: String,
}

/// The payment context's store.
#[derive(Debug, Clone)]
pub struct PaymentStore {
    db: Database,
}

impl PaymentStore {
    /// Records what `worker`'s breaker says now (one row per worker, replaced).
    pub async fn report_circuit(
        &self,
        worker: &str,
        gateway: &str,
        circuit: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO gateway_circuits (worker, gateway, circuit, reported_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (worker) DO UPDATE SET \
             gateway = excluded.gateway, circuit = excluded.circuit, \
             reported_at = excluded.reported_at",
        )
        .bind(worker)
        .bind(gateway)
        .bind(circuit)
        .bind(crate::now_rfc3339())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The breakers that reported at or after `since`, newest first.
    pub async fn circuits_since(
        &self,
        since: std::time::SystemTime,
    ) -> Result<Vec<CircuitReport>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT worker, gateway, circuit, reported_at FROM gateway_circuits \
             WHERE reported_at >= $1 ORDER BY reported_at DESC, worker",
        )
        .bind(db::format_time(since))
        .fetch_all(&self.db.pool)
        .await?)
    }

    /// Opens the payment database as its owner and migrates it (the payment worker).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::owned(url, &MIGRATOR).await?,
        })
    }

    /// Opens the payment database to read it, without migrating (the API); see
    /// [`Self::ping`] for when it is ready.
    pub fn open_reader(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            db: Database::read(url, &MIGRATOR)?,
        })
    }

    /// Whether the database answers with its schema migrated.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ready().await
    }

    /// Records the call's payment outcome once; every later call returns the first record (so a
    /// retried approval never writes a second charge).
    #[tracing::instrument(skip_all, fields(call_id = %input.call_id))]
    pub async fn record(
        &self,
        input: &ApprovePaymentInput,
        outcome: PaymentOutcome,
    ) -> Result<PaymentRecord, StoreError> {
        let call_id = input.call_id.to_string();
        if let Some(existing) = self.find_by_call(&call_id).await? {
            return Ok(existing);
        }
        let (status, reason, charge_id) = match outcome {
            PaymentOutcome::Approved { charge_id } => (PaymentStatus::Approved, None, charge_id),
            PaymentOutcome::Rejected { reason } => (PaymentStatus::Rejected, Some(reason), None),
        };
        let row = NewRow {
            call_id: &call_id,
            mobile: input.mobile.as_ref(),
            pay_type: input.pay_type.as_str(),
            pay_amount: input.pay_amount.get(),
            status,
            reason,
            charge_id,
        };
        self.insert(row).await?;
        let record = self.find_by_call(&call_id).await?;
        record.ok_or_else(|| StoreError::Corrupt(format!("payment for call {call_id} vanished")))
    }

    /// Records a charge the gateway took although its answer never arrived, now refunded, so
    /// the ledger accounts for every won that moved. A no-op when the call already has a row.
    #[tracing::instrument(skip_all, fields(call_id = %charge.call_id))]
    pub async fn record_refunded_charge(
        &self,
        charge: &UnconfirmedCharge,
        kind: RefundKind,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let row = NewRow {
            call_id: &charge.call_id,
            mobile: &charge.mobile,
            pay_type: &charge.pay_type,
            pay_amount: charge.amount,
            status: refunded_status(kind),
            reason: Some("charged without a confirmed answer; refunded".to_owned()),
            charge_id: Some(charge.charge_id.clone()),
        };
        self.insert(row).await?;
        self.find_by_call(&charge.call_id).await
    }

    async fn insert(&self, row: NewRow<'_>) -> Result<(), StoreError> {
        let now = crate::now_rfc3339();
        // Racing writers all reach this insert; the unique keys let exactly one write.
        sqlx::query(
            "INSERT INTO payments (payment_id, call_id, idempotency_key, mobile, pay_type, \
             pay_amount, status, reason, charge_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING",
        )
        .bind(format!("pay-{}", uuid::Uuid::new_v4()))
        .bind(row.call_id)
        .bind(idempotency_key(row.call_id))
        .bind(row.mobile)
        .bind(row.pay_type)
        .bind(row.pay_amount)
        .bind(row.status.as_str())
        .bind(row.reason)
        .bind(row.charge_id)
        .bind(&now)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Refunds the call's approved payment; returns the refunded payment (also when an earlier
    /// try refunded it), or `None` when the call has no charge.
    #[tracing::instrument(skip(self))]
    pub async fn refund(
        &self,
        call_id: &CallId,
        kind: RefundKind,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let to = refunded_status(kind);
        let call_id = call_id.to_string();
        sqlx::query(
            "UPDATE payments SET status = $1, updated_at = $2 \
             WHERE call_id = $3 AND status = 'APPROVED'",
        )
        .bind(to.as_str())
        .bind(crate::now_rfc3339())
        .bind(&call_id)
        .execute(&self.db.pool)
        .await?;
        let refunded = self
            .find_by_call(&call_id)
            .await?
            .filter(|p| matches!(p.status, PaymentStatus::Cancelled | PaymentStatus::Disabled));
        Ok(refunded)
    }

    /// Refunds the call's approved payment except `fee`, which is kept: the payment becomes
    /// `PARTIALLY_REFUNDED` with these amounts, once. Returns it (also when an earlier try did
    /// this, with that try's amounts), or `None` when the call has no approved charge to refund
    /// partially (none, rejected, or already refunded in full).
    #[tracing::instrument(skip(self))]
    pub async fn refund_partially(
        &self,
        call_id: &CallId,
        refunded_amount: Krw,
        fee: Krw,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let call_id = call_id.to_string();
        sqlx::query(
            "UPDATE payments SET status = $1, refunded_amount = $2, fee = $3, updated_at = $4 \
             WHERE call_id = $5 AND status = 'APPROVED'",
        )
        .bind(PaymentStatus::PartiallyRefunded.as_str())
        .bind(refunded_amount.get())
        .bind(fee.get())
        .bind(crate::now_rfc3339())
        .bind(&call_id)
        .execute(&self.db.pool)
        .await?;
        let refunded = self
            .find_by_call(&call_id)
            .await?
            .filter(|p| p.status == PaymentStatus::PartiallyRefunded);
        Ok(refunded)
    }

    /// The payment with this id.
    pub async fn find(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        self.find_where("payment_id", payment_id).await
    }

    /// The payment of this call.
    pub async fn find_by_call(&self, call_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        self.find_where("call_id", call_id).await
    }

    /// Every payment of a call with this status (for audits and tests: more than one would be a
    /// double charge).
    pub async fn count_by_call_and_status(
        &self,
        call_id: &str,
        status: PaymentStatus,
    ) -> Result<i64, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE call_id = $1 AND status = $2")
                .bind(call_id)
                .bind(status.as_str())
                .fetch_one(&self.db.pool)
                .await?;
        Ok(count)
    }

    async fn find_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM payments WHERE {column} = $1");
        let row: Option<PaymentRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(&self.db.pool)
            .await?;
        row.map(PaymentRecord::try_from).transpose()
    }
}

fn refunded_status(kind: RefundKind) -> PaymentStatus {
    match kind {
        RefundKind::Cancel => PaymentStatus::Cancelled,
        RefundKind::Disable => PaymentStatus::Disabled,
    }
}

/// A ledger row about to be written.
struct NewRow<'a> {
    call_id: &'a str,
    mobile: &'a str,
    pay_type: &'a str,
    pay_amount: i64,
    status: PaymentStatus,
    reason: Option<String>,
    charge_id: Option<String>,
}

/// The idempotency key of a call's payment: the same on every retry, at every layer.
pub fn idempotency_key(call_id: impl std::fmt::Display) -> String {
    format!("payment:{call_id}")
}
