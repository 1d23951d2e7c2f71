//! The payment context's business rule on a pre-payment, decided before anything is charged.

use driver_call_workflows::domain::Krw;

/// The decision on an approval before it is charged and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Charge it.
    Approve,
    /// Refuse it, for this reason.
    Reject(String),
}

impl Approval {
    /// A fare below the minimum is refused (exactly the minimum passes).
    pub fn decide(amount: Krw, minimum: Krw) -> Self {
        if amount < minimum {
            return Approval::Reject(format!(
                "payAmount {} KRW is below the minimum fare of {} KRW",
                amount.get(),
                minimum.get()
            ));
        }
        Approval::Approve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_minimum_fare_is_approved() {
        let min = Krw::new(5000).unwrap();
        assert_eq!(
            Approval::decide(Krw::new(5000).unwrap(), min),
            Approval::Approve
        );
        let refused = Approval::decide(Krw::new(4999).unwrap(), min);
        assert_eq!(
            refused,
            Approval::Reject("payAmount 4999 KRW is below the minimum fare of 5000 KRW".into())
        );
    }
}
