//! Warnings (预警): who is told what, and when. The rules (`rules`, pure) read the grade
//! events of the ledger's change log and the board, and decide what to send; `wording`
//! groups a decision into one message a recipient and channel and writes its text; the
//! quiet hours (`quiet`) say when it may go; the outbox (`store::warnings`) keeps every
//! message from before it is sent to its receipt; `outbox` claims due messages and hands
//! them to a `send::Sender`, recording every attempt. `contacts` owns the department
//! contacts and the masking of their numbers; `links` signs and checks the answer links
//! (回告) the messages carry.

pub mod chart;
pub mod contacts;
pub mod engine;
pub mod links;
pub mod message;
pub mod outbox;
pub mod quiet;
pub mod rules;
pub mod schedule;
pub mod send;
pub mod wording;
