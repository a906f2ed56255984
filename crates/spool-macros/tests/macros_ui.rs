//! Wrong macro arguments are compile errors that name the argument (trybuild; kept to a few
//! cases: each run compiles a small crate against Spool).

#[test]
fn bad_arguments_are_compile_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
