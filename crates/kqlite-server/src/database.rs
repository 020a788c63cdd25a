//! The databases a server answers for: each a kqlite `Session` under a name
//! (a store, or the evidence read at start), one of them the default for
//! requests that name none.

use kqlite_engine::Session;
use std::sync::Arc;

/// One served database.
pub struct Database {
    pub name: String,
    pub session: Session,
}

/// The served databases, in the order they were given; the first is the
/// default.
#[derive(Clone)]
pub struct Databases {
    list: Arc<Vec<Database>>,
}

impl Databases {
    /// `databases` must not be empty: a server with nothing to query is a usage error the caller reports.
    pub fn new(databases: Vec<Database>) -> Databases {
        Databases { list: Arc::new(databases) }
    }

    pub fn all(&self) -> &[Database] {
        &self.list
    }

    pub fn default_database(&self) -> Option<&Database> {
        self.list.first()
    }

    /// The database a request names: exactly, else ignoring case (as
    /// Kusto's database names compare); none or an empty name is the default.
    pub fn get(&self, name: Option<&str>) -> Option<&Database> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        let Some(name) = name else { return self.default_database() };
        self.list
            .iter()
            .find(|d| d.name == name)
            .or_else(|| self.list.iter().find(|d| d.name.eq_ignore_ascii_case(name)))
    }
}
