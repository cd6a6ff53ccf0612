package hooks

import (
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"rounds/crm"
	"rounds/policy"
)

// dbResolver answers the policy's questions about stored records by
// following relations in the database.
type dbResolver struct{ app core.App }

func (d dbResolver) Resolve(collection, id, path string) string {
	for _, step := range strings.Split(path, ".") {
		if step == "id" {
			continue
		}
		r, err := findOptional(d.app, collection, id)
		if err != nil || r == nil {
			return ""
		}
		v := r.GetString(step)
		next, ok := policy.Relations[step]
		if !ok || v == "" {
			return v
		}
		collection, id = next, v
	}
	if r, err := findOptional(d.app, collection, id); err != nil || r == nil {
		return ""
	}
	return id
}

// actorOf is the policy's view of a signed-in record (nil: anonymous).
func actorOf(auth *core.Record) policy.Actor {
	switch {
	case auth == nil:
		return policy.Actor{Role: policy.Anonymous}
	case auth.IsSuperuser():
		return policy.Actor{ID: auth.Id, Role: policy.Superuser, Active: true}
	case auth.Collection().Name == crm.Users:
		return policy.Actor{ID: auth.Id, Role: policy.Role(auth.GetString("role")), Active: auth.GetBool("active")}
	}
	return policy.Actor{Role: policy.Anonymous}
}
