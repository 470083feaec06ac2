//! The PostgreSQL cases run only when `CANDOUR_TEST_POSTGRES_URL` names a server; without
//! one they are compiled as ignored, so the test output says they were not run (and why)
//! instead of reporting them as passed.

fn main() {
    println!("cargo::rerun-if-env-changed=CANDOUR_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CANDOUR_REQUIRE_POSTGRES");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    let url = std::env::var("CANDOUR_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    if url {
        println!("cargo::rustc-cfg=postgres_tests");
    } else if std::env::var_os("CANDOUR_REQUIRE_POSTGRES").is_some() {
        println!(
            "cargo::error=CANDOUR_REQUIRE_POSTGRES is set but CANDOUR_TEST_POSTGRES_URL is not"
        );
    }
}
