package load

// SmallConfig is small, for the tests outside the package (they build
// reports, which imports load).
var SmallConfig = small
