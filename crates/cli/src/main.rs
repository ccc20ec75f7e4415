mod config;
mod key;

fn main() {}
