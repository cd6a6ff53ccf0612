package hooks

import (
	"fmt"
	gosync "sync"
	"unsafe"

	"github.com/pocketbase/pocketbase/core"
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// PagePoolBytes is the memory SQLite's page caches take their pages from
// (SQLITE_CONFIG_PAGECACHE), set aside once for the whole process.
//
// Without it every cached page is a malloc of the Go SQLite's allocator,
// which maps memory 64 KB at a time and hands a block back to the system
// as soon as its last page is freed. A read connection frees its whole
// cache whenever another connection has committed (WAL), so under load
// the server mapped, unmapped and faulted in fresh memory for every pull
// (BENCHMARKS, issue 26 fifth round). Pages from the pool go back to the
// pool.
//
// 64 MB holds the writer's cache (cache_size, 32 MB) and what the read
// connections reread between commits. When the pool runs short SQLite
// lets caches reuse their oldest pages before growing, and takes pages
// past it from malloc as before; the database is read the same.
const PagePoolBytes = 64 << 20

// PageSize is the page size the pool is cut for: SQLite's default, and
// PocketBase's databases'. A database of another page size caches as
// before.
const PageSize = 4096

var pagePool struct {
	once  gosync.Once
	slots int
	err   error
}

// SQLite takes a pool only before the first connection in the process
// opens, whoever opens it (PocketBase's own DBConnect, a test, a tool), so
// the pool is set up when the package loads. Until SQLite opens a
// connection the pool is address space only.
func init() { _, _ = setUpPagePool() }

// setUpPagePool gives SQLite its page-cache pool, once. It answers the
// number of pages the pool holds, or why SQLite has none (the server works
// without it, as before).
func setUpPagePool() (slots int, err error) {
	pagePool.once.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		args := libc.Xmalloc(tls, types.Size_t(3*unsafe.Sizeof(uintptr(0))))
		defer libc.Xfree(tls, args)
		hdr := libc.Xmalloc(tls, 8)
		defer libc.Xfree(tls, hdr)
		if args == 0 || hdr == 0 {
			pagePool.err = fmt.Errorf("page-cache pool: out of memory")
			return
		}
		// each slot holds a page and SQLite's headers for it
		if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PCACHE_HDRSZ, libc.VaList(args, hdr)); rc != sqlite3.SQLITE_OK {
			pagePool.err = fmt.Errorf("page-cache pool: SQLite answered %d (a connection opened before it)", rc)
			return
		}
		size := (PageSize + int(libc.AtomicLoadPInt32(hdr)) + 7) &^ 7
		n := PagePoolBytes / size
		pool := libc.Xmalloc(tls, types.Size_t(n*size)) // for as long as the process runs
		if pool == 0 {
			pagePool.err = fmt.Errorf("page-cache pool: could not set aside %d MB", PagePoolBytes>>20)
			return
		}
		if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_PAGECACHE, libc.VaList(args, pool, int32(size), int32(n))); rc != sqlite3.SQLITE_OK {
			libc.Xfree(tls, pool)
			pagePool.err = fmt.Errorf("page-cache pool: SQLite answered %d (a connection opened before it)", rc)
			return
		}
		pagePool.slots = n
	})
	return pagePool.slots, pagePool.err
}

// registerPagePool warns at start when SQLite caches pages without the
// pool (SQLite opened a connection before this package loaded).
func registerPagePool(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		if _, err := setUpPagePool(); err != nil {
			se.App.Logger().Warn("SQLite caches pages without its pool; the server works, at a higher CPU cost under load", "error", err)
		}
		return se.Next()
	})
}
