#[spool::test(workers = 2)]
async fn t() {}

fn main() {}
