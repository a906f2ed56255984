//! sqlx's Postgres driver on its tokio backend: connect to 127.0.0.1 (a Spool listener that
//! accepts and says nothing: no database is needed to see whether the I/O layer runs).
fn main() {
    spool_trials::run("sqlx PgPool::connect (runtime-tokio)", async {
        let listener = spool::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spool::spawn(async move {
            let _held = listener.accept().await;
            spool::time::sleep(std::time::Duration::from_secs(5)).await;
        })
        .detach();
        let url = format!("postgres://user:pass@{addr}/db");
        let connect = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect(&url);
        match spool::time::timeout(std::time::Duration::from_secs(5), connect).await {
            Ok(Ok(_pool)) => "connected".to_owned(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => "no answer in 5 s (Spool timeout)".to_owned(),
        }
    });
}
