package sync

import "github.com/pocketbase/pocketbase/core"

// DateMillisForTest exposes fastDateMillis to the tests (-1: not parsed).
func DateMillisForTest(s string) int64 {
	ms, ok := fastDateMillis(s)
	if !ok {
		return -1
	}
	return ms
}

// StatementCacheForTest reports how many statements app's cache holds,
// whether it holds text, and how many statements pushes prepared
// themselves.
func StatementCacheForTest(app core.App, text string) (size int, has bool, misses int64) {
	c := statements(app)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, has = c.stmts[text]
	return len(c.stmts), has, c.misses.Load()
}

// UpdateQueryForTest is the text of the UPDATE a push writes cols with.
func UpdateQueryForTest(table string, cols ...string) string { return updateQuery(table, cols) }
