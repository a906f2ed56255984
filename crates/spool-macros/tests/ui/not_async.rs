#[spool::main]
fn main() {}
