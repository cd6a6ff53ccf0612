package sync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"rounds/crm"
	rsync "rounds/sync"
)

// TestPushWritesKeepNoStatementJournal: no write a push makes, capture
// triggers included, can stop half-way with SQLite's default ABORT. A
// statement that might (an error halt with P2 = OE_Abort, 2, anywhere in
// its program or its triggers' programs) and writes more than one row makes
// SQLite copy every page it touches into a statement journal, to undo just
// that statement: a delete paid twice its cost for it (BENCHMARKS, issue
// 26 fifth round). A push never goes on after a failed statement, so OR
// FAIL loses nothing. The old delete trigger (a plain INSERT into the
// change log) fails this test.
func TestPushWritesKeepNoStatementJournal(t *testing.T) {
	t.Parallel()
	s := newSync(t)
	db := s.app.ConcurrentDB().(*dbx.DB).DB()
	for _, tb := range rsync.Tables {
		var cols []string
		for _, c := range tb.Columns {
			cols = append(cols, c.Name)
		}
		statements := map[string]string{
			"insert": rsync.InsertQueryForTest(s.app, tb.Name),
			"update": rsync.UpdateQueryForTest(tb.Name, cols...),
			"delete": rsync.DeleteQueryForTest(tb.Name),
		}
		if tb.Parent != "" { // a move has a trigger of its own
			statements["move"] = rsync.UpdateQueryForTest(tb.Name, tb.Parent, "updated")
		} else if tb.Name == crm.Customers { // so has a hand-over
			statements["move"] = rsync.UpdateQueryForTest(tb.Name, "owner", "updated")
		}
		for what, query := range statements {
			args := make([]any, strings.Count(query, "?"))
			for i := range args {
				args[i] = ""
			}
			rows, err := db.Query("EXPLAIN "+query, args...)
			if err != nil {
				t.Fatalf("%s %s: %v", what, tb.Name, err)
			}
			ops, program, aborts := 0, tb.Name, false
			for rows.Next() {
				var addr, p1, p2, p3 int64
				var op string
				var p4, p5, comment any
				if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
					t.Fatal(err)
				}
				ops++
				if s, ok := p4.(string); ok && strings.HasPrefix(s, "-- TRIGGER") {
					program = strings.TrimPrefix(s, "-- ")
				}
				if (op == "Halt" || op == "HaltIfNull") && p1 != 0 && p2 == 2 && !aborts {
					aborts = true
					t.Errorf("the push's %s of %s may abort half-way (%s, %s %d, %v), so SQLite keeps a statement journal: write it OR FAIL",
						what, tb.Name, program, op, p1, fmt.Sprint(p4))
				}
			}
			rows.Close()
			if ops == 0 {
				t.Fatalf("%s %s: EXPLAIN gave no program", what, tb.Name)
			}
		}
	}
}
