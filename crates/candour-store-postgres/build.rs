//! The tests that need a PostgreSQL server run only when `CANDOUR_TEST_POSTGRES_URL` names
//! one when they are built; without it they are compiled as ignored, so the test output says
//! they were not run (and why) instead of reporting them as passed.

fn main() {
    println!("cargo::rerun-if-env-changed=CANDOUR_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var("CANDOUR_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
