package hooks

import (
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pocketbase/pocketbase/core"
)

// DeviceLog gives the external tests the sync device log without its ticker.
type DeviceLog struct{ l *deviceLog }

func NewDeviceLog(app core.App) DeviceLog { return DeviceLog{newDeviceLog(app)} }

// Note records a pull (refused -1) or a push, as the sync handlers do.
func (d DeviceLog) Note(user, device string, at time.Time, refused int) {
	d.l.note(user, device, "test-agent", at, refused)
}

func (d DeviceLog) Flush() { d.l.flush() }

// PageWords and Words are the customer pages' words per language.
var PageWords = pageWords

func Words(lang string) map[string]string { return words(lang) }

// PagePoolForTest is the page-cache pool the package set up when it
// loaded: its pages, or why SQLite has none. It does not set one up itself.
func PagePoolForTest() (slots int, err error) { return pagePool.slots, pagePool.err }

// PagePoolStatusForTest reports how many of the pool's pages are in use
// and how many bytes of page cache SQLite took from malloc because the pool
// had none left, now and at most since the process began.
func PagePoolStatusForTest() (used, usedMax, overflow, overflowMax int64) {
	tls := libc.NewTLS()
	defer tls.Close()
	v := libc.Xmalloc(tls, 16)
	defer libc.Xfree(tls, v)
	read := func(op int32) (int64, int64) {
		sqlite3.Xsqlite3_status64(tls, op, v, v+8, 0)
		return libc.AtomicLoadPInt64(v), libc.AtomicLoadPInt64(v + 8)
	}
	used, usedMax = read(sqlite3.SQLITE_STATUS_PAGECACHE_USED)
	overflow, overflowMax = read(sqlite3.SQLITE_STATUS_PAGECACHE_OVERFLOW)
	return used, usedMax, overflow, overflowMax
}
