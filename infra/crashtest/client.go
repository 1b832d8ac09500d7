package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"gridcode/shared/idcard"
	"gridcode/shared/refresh"
)

// call sends a JSON request (body nil: none) with the staff token and
// decodes a JSON answer into out (nil: discarded). A transport error is
// returned as such; any HTTP status is the caller's to judge.
func (s *server) call(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %q: %w", method, path, b, err)
		}
	}
	return resp.StatusCode, nil
}

// burstResult is what the phones of one burst were told.
type burstResult struct {
	sent     int            // requests sent
	acked    map[int]string // body index -> reportId, for 201 and 200
	refused  map[int]int    // body index -> status other than 201/200 (never expected)
	inflight atomic.Int64   // requests sent and not answered yet
}

// postReports sends the bodies named by idx from clients concurrent
// phones, each one after the other, until they are all sent or the server
// dies (then the rest fail fast). It returns when every client is done.
func (s *server) postReports(ctx context.Context, bodies [][]byte, idx []int, clients int, res *burstResult) {
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= len(idx) || ctx.Err() != nil {
					return
				}
				i := idx[n]
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/v1/reports", bytes.NewReader(bodies[i]))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				res.inflight.Add(1)
				mu.Lock()
				res.sent++
				mu.Unlock()
				resp, err := s.client.Do(req)
				if err != nil {
					res.inflight.Add(-1)
					continue // killed: this phone's report is not acknowledged
				}
				var receipt struct {
					ReportID string `json:"reportId"`
				}
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				res.inflight.Add(-1)
				mu.Lock()
				switch {
				case rerr != nil:
					// The answer was cut off: the phone saw no receipt.
				case (resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK) &&
					json.Unmarshal(b, &receipt) == nil && receipt.ReportID != "":
					res.acked[i] = receipt.ReportID
				default:
					res.refused[i] = resp.StatusCode
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// groupReg is a group this test registers: a shop with a roster.
type groupReg struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Address  string `json:"address"`
	GridCode string `json:"gridCode"`
	Admin    struct {
		Name  string `json:"name"`
		Phone string `json:"phone"`
	} `json:"admin"`
}

// demoGrid is a demo grid of 石冲社区 where the test's groups are.
const demoGrid = "440703006107-01"

// registerGroup registers shop n with members people and returns its id.
func (s *server) registerGroup(ctx context.Context, token string, nonce uint32, n, members int) (string, error) {
	var g groupReg
	g.Name = fmt.Sprintf("压测商店%d号%d", nonce%100000, n)
	g.Kind = "supermarket"
	g.Address = fmt.Sprintf("石冲社区新塘里%d号", 1000+n)
	g.GridCode = demoGrid
	g.Admin.Name = "压测店长"
	g.Admin.Phone = fmt.Sprintf("139%08d", (int(nonce)*7+n)%100000000)
	var view struct {
		GroupID string `json:"groupId"`
	}
	code, err := s.call(ctx, http.MethodPost, "/v1/groups", token, g, &view)
	if err != nil || code != http.StatusCreated {
		return "", fmt.Errorf("register group %d: %d %v", n, code, err)
	}
	type member struct {
		Name     string `json:"name"`
		IDNumber string `json:"idNumber"`
		Phone    string `json:"phone"`
	}
	roster := struct {
		Members []member `json:"members"`
	}{}
	for m := range members {
		first17 := fmt.Sprintf("440703%s%03d", birthDate(n*members+m), m%1000)
		roster.Members = append(roster.Members, member{
			Name: fmt.Sprintf("员工%d", m), IDNumber: first17 + string(idcard.CheckDigit(first17)),
			Phone: fmt.Sprintf("137%08d", (n*members+m)%100000000),
		})
	}
	if code, err := s.call(ctx, http.MethodPut, "/v1/groups/"+view.GroupID+"/members", token, roster, nil); err != nil || code != http.StatusOK {
		return "", fmt.Errorf("roster of group %d: %d %v", n, code, err)
	}
	return view.GroupID, nil
}

// birthDate is a real date between 1960 and 2003, YYYYMMDD, varying with k.
func birthDate(k int) string {
	d := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, k%15700)
	return d.Format("20060102")
}

// runRefresh asks for date's refresh: the status, and the plan's run id
// when it was accepted.
func (s *server) runRefresh(ctx context.Context, token, date string) (int, string, error) {
	var plan struct {
		RunID string `json:"runId"`
	}
	code, err := s.call(ctx, http.MethodPost, "/v1/refresh/run?date="+date, token, nil, &plan)
	return code, plan.RunID, err
}

// waitRefresh polls date's run until it is complete or timeout passes.
func (s *server) waitRefresh(ctx context.Context, token, date string, timeout time.Duration) (refresh.Progress, error) {
	deadline := time.Now().Add(timeout)
	for {
		var p refresh.Progress
		code, err := s.call(ctx, http.MethodGet, "/v1/refresh/runs/"+date, token, nil, &p)
		switch {
		case err != nil:
			return p, err
		case code != http.StatusOK:
			return p, fmt.Errorf("GET /v1/refresh/runs/%s: %d", date, code)
		case p.Complete:
			return p, nil
		case time.Now().After(deadline):
			return p, fmt.Errorf("the run of %s is not complete after %s: %d of %d groups done, %d retrying", date, timeout, p.Done, p.Groups, p.Retrying)
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// pendingSMS is the dashboard's count of SMS queued, being sent or
// waiting for a retry.
func (s *server) pendingSMS(ctx context.Context, token string) (int, error) {
	var st struct {
		SMS struct {
			Pending int `json:"pending"`
		} `json:"sms"`
	}
	code, err := s.call(ctx, http.MethodGet, "/v1/stats", token, nil, &st)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /v1/stats: %d", code)
	}
	return st.SMS.Pending, err
}
