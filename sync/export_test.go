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

// InsertQueryForTest is the text of the INSERT a push writes new records
// of table with.
func InsertQueryForTest(app core.App, table string) string {
	c, err := app.FindCachedCollectionByNameOrId(table)
	if err != nil {
		panic(err)
	}
	return insertQuery(c.Name, sortedColumns(c))
}

// UpdateQueryForTest is the text of the UPDATE a push writes cols with.
func UpdateQueryForTest(table string, cols ...string) string { return updateQuery(table, cols) }
