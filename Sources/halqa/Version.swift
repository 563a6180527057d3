/// Halqa's version: `halqa --version`, and the package's (scripts/package, docs/packaging.md).
/// Raise it for every package that leaves the team.
enum HalqaVersion {
    #if HALQA_UPGRADE_TEST
        // The package test's "next version" (Tests/package/test_package.py), built with
        // HALQA_UPGRADE_TEST=1: one number higher, with a schema migration of its own.
        static let current = "0.9.1~upgradetest"
    #else
        static let current = "0.9.0"
    #endif
}
