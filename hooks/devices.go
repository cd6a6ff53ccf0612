package hooks

import (
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"rounds/crm"
)

// registerDevices serves the reps' FCM token registration:
// POST /api/devices registers (or moves) a token, DELETE /api/devices/{token}
// removes it on logout.
func registerDevices(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		g := se.Router.Group("/api/devices")
		g.Bind(apis.RequireAuth(crm.Users))
		g.POST("", registerDevice)
		g.DELETE("/{token}", unregisterDevice)
		return se.Next()
	})
}

type deviceBody struct {
	Token      string `json:"token"`
	Platform   string `json:"platform"`
	AppVersion string `json:"app_version"`
}

var platforms = []string{"android", "ios", "web"}

func registerDevice(e *core.RequestEvent) error {
	var body deviceBody
	if err := e.BindBody(&body); err != nil {
		return router.NewBadRequestError("The body must be JSON: {\"token\", \"platform\", \"app_version\"}.", err)
	}
	body.Token = strings.TrimSpace(body.Token)
	switch {
	case body.Token == "":
		return router.NewBadRequestError("The field token is required: the FCM registration token of this phone.", nil)
	case len(body.Token) > 4096:
		return router.NewBadRequestError("The field token is longer than 4096 characters.", nil)
	case body.Platform != "" && !slices.Contains(platforms, body.Platform):
		return router.NewBadRequestError("The field platform must be android, ios or web.", nil)
	case len(body.AppVersion) > 50:
		return router.NewBadRequestError("The field app_version is longer than 50 characters.", nil)
	}
	var device *core.Record
	err := e.App.RunInTransaction(func(tx core.App) error {
		d, err := tx.FindFirstRecordByFilter(crm.Devices, "token = {:t}", dbx.Params{"t": body.Token})
		if err != nil {
			c, cerr := tx.FindCachedCollectionByNameOrId(crm.Devices)
			if cerr != nil {
				return cerr
			}
			d = core.NewRecord(c)
			d.Set("token", body.Token)
		}
		// a token belongs to one phone: registering it again moves it to
		// whoever is signed in on that phone now
		d.Set("user", e.Auth.Id)
		d.Set("platform", body.Platform)
		d.Set("app_version", body.AppVersion)
		device = d
		return tx.Save(d)
	})
	if err != nil {
		return router.NewBadRequestError("Failed to register the device.", err)
	}
	return e.JSON(http.StatusOK, map[string]any{
		"id": device.Id, "token": device.GetString("token"), "platform": device.GetString("platform"),
		"app_version": device.GetString("app_version"), "user": device.GetString("user"),
	})
}

func unregisterDevice(e *core.RequestEvent) error {
	token := e.Request.PathValue("token")
	d, err := e.App.FindFirstRecordByFilter(crm.Devices, "token = {:t} && user = {:u}", dbx.Params{"t": token, "u": e.Auth.Id})
	if err != nil {
		return router.NewNotFoundError("No device of yours has this token.", nil)
	}
	if err := e.App.Delete(d); err != nil {
		return err
	}
	return e.NoContent(http.StatusNoContent)
}
