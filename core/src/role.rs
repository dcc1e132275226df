//! The staff roles, as one type: parsed once where a role arrives (a
//! request, a form, a database row) and compared as values everywhere
//! else. A role's text form (`raffle_manager`) is its JSON and database
//! form.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A role a user may hold (GLI-31 5.2.2: each function is given to named
/// people, and two-person rules name roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, roles, settings, and a second approver of changes to people.
    Administrator,
    /// Raffles: configuration, opening, closing, draws, claims.
    RaffleManager,
    /// Reconciliation, voids and refunds; an approver.
    Finance,
    /// Reads figures and significant events.
    Auditor,
    /// Sells on a sales unit, signing in there with a PIN they set here.
    RsuOperator,
}

impl Role {
    /// Every role, in the order forms list them.
    pub const ALL: [Role; 5] = [
        Role::Administrator,
        Role::RaffleManager,
        Role::Finance,
        Role::Auditor,
        Role::RsuOperator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::RaffleManager => "raffle_manager",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::RsuOperator => "rsu_operator",
        }
    }

    pub fn parse(s: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                Error::invalid("role", format!("{s:?} is not one of {}", all.join(", ")))
            })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_reads_back_as_it_is_written() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!(Role::parse("root").is_err());
        assert!(serde_json::from_str::<Role>("\"Administrator\"").is_err());
    }
}
