//! Skeleton: filled by a later issue; nothing here works yet.
