//! Pure decisions for running many jobs: the [`Scheduler`] (which line starts when), how many
//! may generate at once ([`ConcurrencyController`]), whether the next one still fits the credit
//! budget ([`Budget`]), and the [`Tally`] of how the lines ended. The facade's batch runner only
//! executes them.

mod budget;
mod concurrency;
mod line;
mod scheduler;
mod tally;

pub use budget::{Budget, BudgetRefusal};
pub use concurrency::ConcurrencyController;
pub use line::{BatchLine, BatchLineError, split_batch_line};
pub use scheduler::{Action, Input, Need, Scheduler, SchedulerOptions};
pub use tally::{Charge, LineEnd, LineKind, Tally};
