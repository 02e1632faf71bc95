package server

// SetMaxCurrentOnlyScan sets the keys a current-only page reads from each
// index, for tests of paging, and returns a function that restores it.
func SetMaxCurrentOnlyScan(n int) func() {
	old := maxCurrentOnlyScan
	maxCurrentOnlyScan = n
	return func() { maxCurrentOnlyScan = old }
}
