//! Pure decisions for running many jobs: how many may generate at once, and whether the next
//! one still fits the credit budget. The facade's batch runner executes them.

mod budget;
mod concurrency;
mod line;

pub use budget::{Budget, BudgetRefusal};
pub use concurrency::ConcurrencyController;
pub use line::{BatchLine, BatchLineError, split_batch_line};
