//! `kqlite-detect`: detections over kqlite tables.
//!
//! [`content`] reads Sentinel content (rules, hunting queries, parsers,
//! watchlists) from an Azure-Sentinel checkout.
//! [`finding`] is what a detection reports to an analyst, [`entity`] makes
//! one finding per account and rule and says which rules agree. [`rule`] reads
//! Sentinel analytic rules and [`sigma`] Sigma rules, [`pack`] holds the
//! built-in ones (and [`sigma_export`] their portable Sigma form), [`tuning`] and
//! [`watchlist`] adapt them to an organisation, [`hunt`] runs them over the
//! [`evidence`] (Sigma rules together, by [`sigma_plan`]), [`detection_test`] checks them against known cases and
//! [`pivot`] prepares their follow-up queries. [`report`] writes findings
//! and their graph; [`error`] says why something failed.

pub mod content;
pub mod detection_test;
pub mod entity;
pub mod error;
pub mod evidence;
pub mod finding;
pub mod hunt;
pub mod pack;
pub mod pivot;
pub mod predicate_set;
pub mod query_edit;
pub mod report;
pub mod rule;
pub mod sigma;
pub mod sigma_export;
pub mod sigma_plan;
pub mod tuning;
pub mod watchlist;

pub use error::DetectError;
