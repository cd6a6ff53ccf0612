package crm_test

import (
	"math"
	"strings"
	"testing"

	"rounds/crm"
)

func TestLineTotal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		price    float64
		qty      int64
		discount float64
		want     float64
	}{
		{"no discount", 12.50, 4, 0, 50.00},
		{"ten percent", 12.50, 4, 10, 45.00},
		{"rounds half away from zero", 0.05, 1, 50, 0.03},
		{"binary fractions do not leak", 0.1, 3, 0, 0.30},
		{"full discount", 99.99, 7, 100, 0},
		{"fractional percent", 19.99, 3, 12.5, 52.47},
		{"large order", 1234.56, 1000, 0, 1234560.00},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := crm.LineTotal(c.price, c.qty, c.discount)
			if got != c.want {
				t.Fatalf("LineTotal(%v, %d, %v) = %v, want %v", c.price, c.qty, c.discount, got, c.want)
			}
		})
	}
}

func TestCheckStatusMove(t *testing.T) {
	t.Parallel()
	allowed := map[[2]string]bool{
		{"draft", "submitted"}:     true,
		{"submitted", "confirmed"}: true,
		{"confirmed", "fulfilled"}: true,
		{"draft", "cancelled"}:     true,
		{"submitted", "cancelled"}: true,
		{"confirmed", "cancelled"}: true,
	}
	for _, from := range crm.OrderStatuses {
		for _, to := range crm.OrderStatuses {
			err := crm.CheckStatusMove(from, to)
			want := from == to || allowed[[2]string{from, to}]
			if (err == nil) != want {
				t.Errorf("CheckStatusMove(%s, %s) = %v, want allowed=%v", from, to, err, want)
			}
			if err != nil && !strings.Contains(err.Error(), from) {
				t.Errorf("error %q does not name the status %q", err, from)
			}
		}
	}
}

func TestGeoStatus(t *testing.T) {
	t.Parallel()
	shop := crm.Point{Lat: 52.520008, Lng: 13.404954} // Berlin, Alexanderplatz
	cases := []struct {
		name     string
		checkIn  crm.Point
		customer crm.Point
		want     string
	}{
		{"same spot", shop, shop, crm.GeoVerified},
		{"about 200 m north", crm.Point{Lat: shop.Lat + 0.0018, Lng: shop.Lng}, shop, crm.GeoVerified},
		{"about 330 m north", crm.Point{Lat: shop.Lat + 0.0030, Lng: shop.Lng}, shop, crm.GeoFar},
		{"another city", crm.Point{Lat: 48.137154, Lng: 11.576124}, shop, crm.GeoFar},
		{"no check-in position", crm.Point{}, shop, crm.GeoUnknown},
		{"customer without position", shop, crm.Point{}, crm.GeoUnknown},
		{"across the antimeridian", crm.Point{Lat: 0.5, Lng: 179.9995}, crm.Point{Lat: 0.5, Lng: -179.9995}, crm.GeoVerified},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := crm.GeoStatus(c.checkIn, c.customer); got != c.want {
				t.Fatalf("GeoStatus = %s (%.0f m), want %s", got, crm.DistanceMeters(c.checkIn, c.customer), c.want)
			}
		})
	}
}

func TestDistanceMeters(t *testing.T) {
	t.Parallel()
	// Berlin -> Munich is about 504 km.
	d := crm.DistanceMeters(crm.Point{Lat: 52.520008, Lng: 13.404954}, crm.Point{Lat: 48.137154, Lng: 11.576124})
	if math.Abs(d-504_000) > 2_000 {
		t.Fatalf("Berlin-Munich = %.0f m, want about 504 km", d)
	}
}

func TestCheckBirthday(t *testing.T) {
	t.Parallel()
	valid := []string{"", "01-01", "02-29", "12-31", "04-30"}
	invalid := []string{"2-3", "02/03", "13-01", "00-10", "04-31", "02-30", "1-012", "ab-cd", "06-00"}
	for _, s := range valid {
		if err := crm.CheckBirthday(s); err != nil {
			t.Errorf("CheckBirthday(%q) = %v, want nil", s, err)
		}
	}
	for _, s := range invalid {
		if err := crm.CheckBirthday(s); err == nil {
			t.Errorf("CheckBirthday(%q) = nil, want an error", s)
		}
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"abcdefghijklmno":                       true,  // 15, PocketBase style
		"Ab3dEf6hIj9kLm0p":                      true,  // 16, WatermelonDB style
		"0b7e4c1a-5d2f-4e8b-9a3c-6f1d2e3b4a5c":  true,  // UUID
		"abcdefghijklmn":                        false, // 14
		"0b7e4c1a-5d2f-4e8b-9a3c-6f1d2e3b4a5c0": false, // 37
		"abcdefgh/ijklmno":                      false,
		"abcdefgh ijklmno":                      false,
		"abcdefgh'ijklmno":                      false,
	}
	for id, want := range cases {
		if got := crm.ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestCheckTimezone(t *testing.T) {
	t.Parallel()
	for _, tz := range []string{"", "UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"} {
		if err := crm.CheckTimezone(tz); err != nil {
			t.Errorf("CheckTimezone(%q) = %v", tz, err)
		}
	}
	for _, tz := range []string{"Local", "Mars/Olympus", "Europe/../etc/passwd", "+02:00"} {
		if err := crm.CheckTimezone(tz); err == nil {
			t.Errorf("CheckTimezone(%q) = nil, want an error", tz)
		}
	}
}
