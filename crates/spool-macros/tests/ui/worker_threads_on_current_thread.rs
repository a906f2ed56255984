#[spool::test(worker_threads = 2)]
async fn t() {}

#[spool::main(flavor = "multi_thread", start_paused = true)]
async fn main() {}
