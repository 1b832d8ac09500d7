package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gridcode/shared/registry"
	"gridcode/shared/registry/filesource"
	"gridcode/shared/worklist"
)

// ImportRegistry imports a registry CSV into the local store, calling
// progress after every chunk. An import of the same file (path, size and
// modification time) that was interrupted resumes where it stopped; one
// that finished runs again, and changes nothing that is already so.
func (s *System) ImportRegistry(ctx context.Context, path string, progress func(registry.Import)) (registry.Import, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return registry.Import{}, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return registry.Import{}, err
	}
	dir, err := s.Settings.Grids(ctx)
	if err != nil {
		return registry.Import{}, err
	}
	id := "imp" + s.vault.Lookup("registry-import", abs, strconv.FormatInt(info.Size(), 10), info.ModTime().UTC().Format(time.RFC3339Nano))[:16]
	run, err := s.Store.GetImport(ctx, id)
	switch {
	case errors.Is(err, registry.ErrNotFound), err == nil && run.Status != registry.ImportRunning:
		// A new run over the one that ended is written over its version:
		// another import of the file started meanwhile is ErrConflict.
		now := s.now().UTC()
		run = registry.Import{
			ID: id, Source: filepath.Base(abs), Status: registry.ImportRunning, StartedAt: now, UpdatedAt: now,
			ExpiresAt: now.Add(registry.ImportRetention).Unix(), Version: run.Version,
		}
	case err != nil:
		return registry.Import{}, err
	}
	im := &registry.Importer{People: s.Store, Imports: s.Store, Vault: s.vault, Grids: dir, Now: s.now}
	return im.Run(ctx, run, filesource.File{Path: abs}, time.Time{}, progress)
}

// ImportList uploads a list file (a NAT, residence-code or venue-code list)
// into the local store.
func (s *System) ImportList(ctx context.Context, path, name, kind string) (worklist.List, []registry.RowError, error) {
	f, err := os.Open(path)
	if err != nil {
		return worklist.List{}, nil, err
	}
	defer f.Close()
	dir, err := s.Settings.Grids(ctx)
	if err != nil {
		return worklist.List{}, nil, err
	}
	up := &worklist.Uploader{Store: s.Store, Vault: s.vault, Grids: dir, Now: s.now}
	if name == "" {
		name = filepath.Base(path)
	}
	return up.Upload(ctx, name, kind, "cli", f)
}

// Reconcile turns the people in list a and not in list b into tasks.
func (s *System) Reconcile(ctx context.Context, a, b string) (worklist.Reconciliation, error) {
	rc := &worklist.Reconciler{Lists: s.Store, Registry: s.Store, Vault: s.vault, Now: s.now}
	res, err := rc.Run(ctx, a, b)
	if err != nil {
		return res, fmt.Errorf("reconcile %s with %s: %w", a, b, err)
	}
	return res, nil
}
