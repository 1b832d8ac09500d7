package httpapi

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"

	"gridcode/shared/auth"
	"gridcode/shared/dates"
	"gridcode/shared/fields"
	"gridcode/shared/gridwork"
	"gridcode/shared/group"
	"gridcode/shared/group/export"
	"gridcode/shared/qr"
)

// MaxGroupBody bounds a registration or a self-join; a roster is bounded
// by group.MaxRosterBytes.
const MaxGroupBody = 4 << 10

// GroupsAPI serves the group code: registration, the roster, self-joins
// and the daily list.
type GroupsAPI struct {
	Registry *group.Registry
	Audit    gridwork.Auditor // who saw a roster or a daily list
	Staff    Staff
	// JoinsPerAddress limits the public self-joins of one client address
	// (ClientKey), counted before the body is read; the per-person limit
	// is Registry.Gate.
	JoinsPerAddress Limit
}

// Register mounts the routes on mux.
func (a GroupsAPI) Register(mux Router) {
	mux.HandleFunc("POST /v1/groups", a.register)
	mux.HandleFunc("GET /v1/groups/{groupId}", a.get)
	mux.HandleFunc("GET /v1/grids/{gridCode}/groups", a.gridGroups)
	mux.HandleFunc("GET /v1/groups/{groupId}/qr.png", a.qr)
	mux.HandleFunc("GET /v1/groups/{groupId}/members", a.roster)
	mux.HandleFunc("PUT /v1/groups/{groupId}/members", a.replaceRoster)
	mux.HandleFunc("GET /v1/groups/{groupId}/join", a.card)
	mux.HandleFunc("POST /v1/groups/{groupId}/join", a.join)
	mux.HandleFunc("POST /v1/groups/{groupId}/members/{memberId}/approve", a.approve)
	mux.HandleFunc("GET /v1/groups/{groupId}/daily", a.daily)
}

func (a GroupsAPI) register(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var in group.Registration
	if decodeJSON(w, r, MaxGroupBody, &in) != nil {
		return
	}
	v, err := a.Registry.Register(r.Context(), p, in)
	if errors.Is(err, group.ErrExists) {
		body := struct {
			Error string      `json:"error"`
			Group *group.View `json:"group,omitempty"`
		}{Error: "group_exists"}
		if v.GroupID != "" {
			body.Group = &v
		}
		writeJSON(w, http.StatusConflict, body)
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/groups/"+url.PathEscape(v.GroupID))
	writeJSON(w, http.StatusCreated, v)
}

func (a GroupsAPI) get(w http.ResponseWriter, r *http.Request) {
	a.Staff.answer(w, r, http.StatusOK, func(p auth.Principal) (any, error) {
		return a.Registry.Get(r.Context(), p, r.PathValue("groupId"))
	})
}

func (a GroupsAPI) gridGroups(w http.ResponseWriter, r *http.Request) {
	a.Staff.answer(w, r, http.StatusOK, func(p auth.Principal) (any, error) {
		vs, err := a.Registry.GridGroups(r.Context(), p, r.PathValue("gridCode"))
		return map[string]any{"groups": vs}, err
	})
}

// qrSize fits a poster's code printed at 6 cm.
const qrSize = 512

func (a GroupsAPI) qr(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	v, err := a.Registry.Get(r.Context(), p, r.PathValue("groupId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	png, err := qr.PNG(v.JoinURL, qrSize)
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(png)
}

func (a GroupsAPI) roster(w http.ResponseWriter, r *http.Request) {
	a.Staff.answerCaller(w, r, http.StatusOK, func(c gridwork.Caller) (any, error) {
		roster, err := a.Registry.Roster(r.Context(), c.Principal, r.PathValue("groupId"))
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, m := range slices.Concat(roster.Members, roster.Pending) {
			keys = append(keys, m.MemberID)
		}
		return roster, a.Audit.Record(r.Context(), c, "group.roster", keys...)
	})
}

// replaceRoster takes JSON ({"members": [...]}) or a CSV file as Chinese
// Excel exports it (UTF-8 with or without BOM, or GB18030).
func (a GroupsAPI) replaceRoster(w http.ResponseWriter, r *http.Request) {
	p, err := a.Staff.principal(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	// Only the group's manager may learn what is wrong with a roster.
	if !p.CanManageGroup(r.PathValue("groupId")) {
		fail(w, r, auth.ErrForbidden)
		return
	}
	// ReadRoster bounds the body (group.MaxRosterBytes) and refuses other
	// media types; fail maps both.
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	rows, err := group.ReadRoster(r.Body, mt, a.Staff.Now())
	if err != nil {
		fail(w, r, err)
		return
	}
	v, err := a.Registry.ReplaceRoster(r.Context(), p, r.PathValue("groupId"), rows)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// card is public: the self-join page names the group its QR code is for.
func (a GroupsAPI) card(w http.ResponseWriter, r *http.Request) {
	c, err := a.Registry.Card(r.Context(), r.PathValue("groupId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// join is public: the group's QR code opens it.
func (a GroupsAPI) join(w http.ResponseWriter, r *http.Request) {
	if !a.JoinsPerAddress.admitClient(w, r) {
		return
	}
	var row group.RosterRow
	if decodeJSON(w, r, MaxGroupBody, &row) != nil {
		return
	}
	if err := a.Registry.Join(r.Context(), r.PathValue("groupId"), row); err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": string(group.Pending)})
}

func (a GroupsAPI) approve(w http.ResponseWriter, r *http.Request) {
	a.Staff.answer(w, r, http.StatusOK, func(p auth.Principal) (any, error) {
		return a.Registry.Approve(r.Context(), p, r.PathValue("groupId"), r.PathValue("memberId"))
	})
}

// daily serves a day's list (today by default) as JSON, CSV or XLSX.
func (a GroupsAPI) daily(w http.ResponseWriter, r *http.Request) {
	c, err := a.Staff.caller(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	q := r.URL.Query()
	date := q.Get("date")
	if date == "" {
		date = dates.Today(a.Staff.Now())
	} else if _, ok := dates.Parse(date); !ok {
		writeError(w, http.StatusBadRequest, "invalid_query", fields.Problem{Field: "date", Reason: "invalid"})
		return
	}
	format := q.Get("format")
	switch format {
	case "", "json", "csv", "xlsx":
	default:
		writeError(w, http.StatusBadRequest, "invalid_query", fields.Problem{Field: "format", Reason: "unknown"})
		return
	}
	d, err := a.Registry.Daily(r.Context(), c.Principal, r.PathValue("groupId"), date)
	if err == nil {
		action := "group.daily_list"
		if format == "csv" || format == "xlsx" {
			action = "group.daily_export"
		}
		keys := make([]string, len(d.Entries))
		for i, e := range d.Entries {
			keys[i] = e.PersonKey
		}
		err = a.Audit.Record(r.Context(), c, action, keys...)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if format == "" || format == "json" {
		writeJSON(w, http.StatusOK, d)
		return
	}
	g := group.Group{ID: d.Group.GroupID, Name: d.Group.Name, Kind: d.Group.Kind, Address: d.Group.Address, GridCode: d.Group.GridCode}
	var buf bytes.Buffer
	contentType := "text/csv; charset=utf-8"
	if format == "csv" {
		err = export.CSV(&buf, g, date, d.Summary, d.Entries)
	} else {
		contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		err = export.XLSX(&buf, g, date, d.Summary, d.Entries)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	// An ASCII name, which every browser keeps.
	name := d.Group.GroupID + "-" + date + "." + format
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
