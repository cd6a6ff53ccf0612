package hooks

import (
	"time"

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
