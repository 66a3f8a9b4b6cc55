//! The calloc-specific phases of analysing one function, after its CFG is built:
//!
//! 1. [`transfer`]: block states at the fixpoint of the dataflow ([`crate::fixpoint`] with
//!    [`crate::dataflow`] as transfer; calls resolved, callees that return the product or a
//!    quotient analysed);
//! 2. [`replay`]: one pass from those states noting products, divisions, overflow tests and
//!    the safe sides of their branches, calls, indirect jumps and returns;
//! 3. [`unguarded`]: the blocks reachable without crossing a safe side;
//! 4. [`calls`]: what each call does with nmemb, size and the product (callees analysed);
//! 5. [`verdict`]: the function's outcome, reason and evidence.

pub(crate) mod calls;
pub(crate) mod replay;
pub(crate) mod transfer;
pub(crate) mod unguarded;
pub(crate) mod verdict;
