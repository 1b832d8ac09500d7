// Package district holds what the district office sets: the grids, the
// risk-area list and the guidance table. Intake reads them on every report,
// so they are cached briefly in each process.
package district

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"gridcode/shared/alert"
	"gridcode/shared/area"
	"gridcode/shared/fields"
	"gridcode/shared/grid"
	"gridcode/shared/risk"
	"gridcode/shared/textnorm"
)

// Rule set names in the rules table.
const (
	RiskAreasRuleSet = "risk-areas"
	GuidanceRuleSet  = "guidance"
)

// ErrNoRuleSet is returned by stores for a rule set never written.
var ErrNoRuleSet = errors.New("district: rule set not set")

// Store is where settings live.
type Store interface {
	ListGrids(ctx context.Context) ([]grid.Grid, error)
	PutGrids(ctx context.Context, grids []grid.Grid) error
	GetRuleSet(ctx context.Context, name string) ([]byte, error)
	PutRuleSet(ctx context.Context, name string, body []byte) error
}

// Settings reads and writes the district's settings.
type Settings struct {
	store Store
	areas *area.Catalog
	now   func() time.Time
	ttl   time.Duration

	mu       sync.Mutex
	loadedAt time.Time
	grids    *grid.Directory
	list     risk.List
	guidance risk.Rules
}

// NewSettings caches what it reads for ttl. A change made through this
// process is seen at once; one made elsewhere (another Lambda instance)
// within ttl.
func NewSettings(store Store, areas *area.Catalog, now func() time.Time, ttl time.Duration) *Settings {
	return &Settings{store: store, areas: areas, now: now, ttl: ttl}
}

func (s *Settings) current(ctx context.Context) (*grid.Directory, risk.List, risk.Rules, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grids != nil && s.now().Sub(s.loadedAt) < s.ttl {
		return s.grids, s.list, s.guidance, nil
	}
	if err := s.reload(ctx); err != nil {
		if s.grids == nil {
			return nil, risk.List{}, nil, err
		}
		// Rules change a few times a day; reports must not stop because one
		// read of them failed. The next request tries again.
		slog.WarnContext(ctx, "district settings reload failed, serving the last ones read", "err", err)
	}
	return s.grids, s.list, s.guidance, nil
}

// reload reads everything and replaces the cache only if every read worked.
func (s *Settings) reload(ctx context.Context) error {
	grids, err := s.store.ListGrids(ctx)
	if err != nil {
		return fmt.Errorf("load grids: %w", err)
	}
	var areas []risk.Area
	if err := s.loadRuleSet(ctx, RiskAreasRuleSet, &areas); err != nil {
		return err
	}
	table := risk.DefaultGuidance()
	if err := s.loadRuleSet(ctx, GuidanceRuleSet, &table); err != nil {
		return err
	}
	s.grids, s.list, s.guidance, s.loadedAt = grid.NewDirectory(grids), risk.NewList(areas), risk.NewRules(table), s.now()
	return nil
}

// loadRuleSet leaves into untouched when the rule set was never written.
func (s *Settings) loadRuleSet(ctx context.Context, name string, into any) error {
	body, err := s.store.GetRuleSet(ctx, name)
	if errors.Is(err, ErrNoRuleSet) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	return nil
}

// invalidate makes the next read reload; until a reload works, the old
// settings are still served.
func (s *Settings) invalidate() {
	s.mu.Lock()
	s.loadedAt = time.Time{}
	s.mu.Unlock()
}

// Grids is the current grid directory.
func (s *Settings) Grids(ctx context.Context) (*grid.Directory, error) {
	g, _, _, err := s.current(ctx)
	return g, err
}

// RiskAreas is the current risk-area list.
func (s *Settings) RiskAreas(ctx context.Context) (risk.List, error) {
	_, l, _, err := s.current(ctx)
	return l, err
}

// Guidance is the current guidance table.
func (s *Settings) Guidance(ctx context.Context) (risk.Rules, error) {
	_, _, g, err := s.current(ctx)
	return g, err
}

// MaxRiskAreas bounds one list: about 75 bytes an entry keeps the whole
// list in one 400 KB DynamoDB item, and there are under 3,000 counties.
const MaxRiskAreas = 4000

// SetRiskAreas replaces the whole list after checking every entry.
func (s *Settings) SetRiskAreas(ctx context.Context, areas []risk.Area) error {
	if len(areas) > MaxRiskAreas {
		return &fields.Error{Code: "invalid_risk_areas", Problems: []fields.Problem{{Field: "areas", Reason: "too_many"}}}
	}
	known := func(code string) bool { _, ok := s.areas.County(code); return ok }
	if err := risk.Validate(areas, known); err != nil {
		return err
	}
	return s.putRuleSet(ctx, RiskAreasRuleSet, areas)
}

// Guidance limits.
const MaxGuidanceRunes = 300

// SetGuidance replaces the guidance table. Every level must be present and
// its SMS action must fit the registered template in one segment.
func (s *Settings) SetGuidance(ctx context.Context, table []risk.Guidance) error {
	var c fields.Collector
	seen := map[risk.Level]bool{}
	table = slices.Clone(table)
	for i := range table {
		g := &table[i]
		g.Text, g.Action = textnorm.Clean(g.Text), textnorm.Clean(g.Action)
		field := fmt.Sprintf("[%d].", i)
		switch {
		case !g.Level.Valid():
			c.Add(field+"level", "invalid")
		case seen[g.Level]:
			c.Add(field+"level", "duplicate")
		}
		seen[g.Level] = true
		switch n := utf8.RuneCountInString(g.Text); {
		case n == 0:
			c.Add(field+"text", "required")
		case n > MaxGuidanceRunes:
			c.Add(field+"text", "too_long")
		case !textnorm.Printable(g.Text):
			c.Add(field+"text", "invalid_characters")
		}
		if !textnorm.Printable(g.Action) {
			c.Add(field+"smsAction", "invalid_characters")
		} else if _, err := alert.ReportWelcome.Render(map[string]string{"action": g.Action}); err != nil {
			reason := "too_long"
			if errors.Is(err, alert.ErrMissingParam) {
				reason = "required"
			}
			c.Add(field+"smsAction", reason)
		}
	}
	for _, l := range risk.Levels {
		if !seen[l] {
			c.Add("level."+string(l), "missing")
		}
	}
	if err := c.Err("invalid_guidance"); err != nil {
		return err
	}
	return s.putRuleSet(ctx, GuidanceRuleSet, table)
}

func (s *Settings) putRuleSet(ctx context.Context, name string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := s.store.PutRuleSet(ctx, name, body); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	s.invalidate()
	return nil
}

// PutGrids stores grids (the demo seed and the admin import use it).
func (s *Settings) PutGrids(ctx context.Context, grids []grid.Grid) error {
	if err := s.store.PutGrids(ctx, grids); err != nil {
		return fmt.Errorf("put grids: %w", err)
	}
	s.invalidate()
	return nil
}
