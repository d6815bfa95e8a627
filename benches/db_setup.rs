//! Database set-up figures: cold start of an embedded cluster, migrating an
//! empty database, and cloning a fresh per-test database from the template.
//!
//! `cargo bench --bench db_setup` prints them; docs/benchmarks.md records them.

use gateway::db::embedded::{Cluster, ClusterOptions};
use sea_orm::sqlx::{self, Connection, PgConnection};
use std::time::{Duration, Instant};

const CLONES: usize = 20;
const MIGRATIONS: usize = 3;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let started = Instant::now();
    let cluster = Cluster::start(ClusterOptions::ephemeral().expect("temp dir")).expect("start");
    let cold_start = started.elapsed();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let admin = cluster.url("postgres", "postgres");
        let mut migrate_times = Vec::new();
        for i in 0..MIGRATIONS {
            let name = format!("bench_migrate_{i}");
            gateway::db::ensure_database(&admin, &name).await.unwrap();
            let t = Instant::now();
            gateway::db::migrate(&cluster.url("postgres", &name))
                .await
                .unwrap();
            migrate_times.push(t.elapsed());
        }

        let mut conn = PgConnection::connect(&admin).await.unwrap();
        let mut clone_times = Vec::new();
        for strategy in ["WAL_LOG", "FILE_COPY"] {
            let mut times = Vec::new();
            for i in 0..CLONES {
                let sql = format!(
                    "CREATE DATABASE bench_{strategy}_{i} TEMPLATE bench_migrate_0 STRATEGY {strategy}"
                );
                let t = Instant::now();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                times.push(t.elapsed());
            }
            times.sort();
            clone_times.push((strategy, times));
        }
        conn.close().await.ok();

        migrate_times.sort();
        println!(
            "cold start of the embedded cluster (initdb + start): {}",
            ms(cold_start)
        );
        println!(
            "migrate an empty database ({MIGRATIONS} runs): median {}, max {}",
            ms(migrate_times[MIGRATIONS / 2]),
            ms(*migrate_times.last().unwrap())
        );
        for (strategy, times) in &clone_times {
            println!(
                "fresh per-test database from the template, STRATEGY {strategy} ({CLONES} runs): median {}, max {}",
                ms(times[CLONES / 2]),
                ms(*times.last().unwrap())
            );
        }
    });
    cluster.stop().expect("stop");
}
