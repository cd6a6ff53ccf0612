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

// FeedQueryForTest is the query an incremental pull reads a rep's feed with.
func FeedQueryForTest() string { return feedQuery }

// SetLegacyReadsForTest makes incremental pulls read as they did before
// the feed (issue 26's starting point): their changes with feed, the
// records and customers by ids with IN lists the planner may walk the rep's
// customers for. It returns a function that puts the feed back.
func SetLegacyReadsForTest(feed string) (restore func()) {
	wasFeed, wasBy, wasOwned := feedQuery, byIDs, ownedAmongQuery
	feedQuery = feed
	byIDs = func(t Table, by string) string {
		return scopedFrom(t, by+".id IN (SELECT value FROM json_each({:ids}))")
	}
	ownedAmongQuery = "SELECT id FROM customers WHERE owner = {:rep} AND id IN (SELECT value FROM json_each({:ids}))"
	return func() { feedQuery, byIDs, ownedAmongQuery = wasFeed, wasBy, wasOwned }
}

// ByIDsQueryForTest is the query a pull reads the records of table with,
// for a list of their ids (byCustomer: of their customers' ids).
func ByIDsQueryForTest(table string, byCustomer bool) string {
	t, _ := TableByName(table)
	by := byRecord
	if byCustomer {
		by = "c"
	}
	return "SELECT " + wireColumns(t) + scopedByIDs(t, by)
}

// OwnedAmongQueryForTest lists which of a list of customers a rep owns.
const OwnedAmongQueryForTest = ownedAmong

// UnpulledQueriesForTest are the queries a push asks whether the device
// lacks something with (sync_again).
var UnpulledQueriesForTest = []string{unpulledQuery, removalsQuery}

// SetReadCacheForTest turns the cache of the pull's statements, and of the
// push's statements with placeholders, off (false) or on: off, each query
// is prepared where it runs, as before issue 26's second round. It returns
// a function that puts the setting back.
func SetReadCacheForTest(on bool) (restore func()) {
	was := uncachedReads.Swap(!on)
	return func() { uncachedReads.Store(was) }
}

// ReadStatementsForTest reports how many statements app's cache of the
// pull's statements holds, and whether it holds the one of text (dbx's
// placeholders).
func ReadStatementsForTest(app core.App, text string) (size int, has bool) {
	c := readStatements(app)
	c.mu.Lock()
	defer c.mu.Unlock()
	_, has = c.stmts[compile(text).text]
	return len(c.stmts), has
}

// HistoryQueryForTest is the query a push reads the change log's word on
// the records it names with.
const HistoryQueryForTest = historyQuery

// DeleteQueryForTest is the text of the DELETE a push removes a record of
// table with.
func DeleteQueryForTest(table string) string { return deleteQuery(table) }
