package registry

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSpellings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name           string
		full, initials []string
		wantKind       int
		wantLetters    string
	}{
		{name: "张三", full: []string{"zhangsan"}, initials: []string{"zs"}, wantKind: nameChinese},
		// The surname's readings first (单 as a surname is shan), then the
		// given name's, at most maxSpellings.
		{name: "单乐", full: []string{"danle", "chanle", "shanle", "danyue"}, initials: []string{"dl", "cl", "sl", "dy"}, wantKind: nameChinese},
		{name: "曾长", full: []string{"cengzhang", "zengzhang", "cengchang"}, initials: []string{"cz", "zz", "cc"}, wantKind: nameChinese},
		{name: "吕 𠮷", full: []string{"lv𠮷"}, initials: []string{"l𠮷"}, wantKind: nameChinese},
		{name: "买买提·艾力", full: []string{"maimaitiaili", "maimaidiaili", "maimaichiaili", "maimaishiaili"}, initials: []string{"mmtal", "mmdal", "mmcal", "mmsal"}, wantKind: nameChinese},
		{name: "John Smith", full: []string{"johnsmith"}, initials: []string{"js"}, wantKind: nameLetters, wantLetters: "johnsmith"},
		{name: "ｚｈａｎｇ ｓａｎ", full: []string{"zhangsan"}, initials: []string{"zs"}, wantKind: nameLetters, wantLetters: "zhangsan"},
		{name: "张san", full: []string{"zhangsan"}, initials: []string{"zs"}, wantKind: nameChinese},
		{name: "张3", full: []string{"zhang"}, initials: []string{"z"}, wantKind: nameOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			full, initials := spellings(syllables(tc.name))
			if !reflect.DeepEqual(full, tc.full) || !reflect.DeepEqual(initials, tc.initials) {
				t.Errorf("spellings = %q, %q; want %q, %q", full, initials, tc.full, tc.initials)
			}
			if kind, letters := nameKind(tc.name); kind != tc.wantKind || letters != tc.wantLetters {
				t.Errorf("nameKind = %d, %q; want %d, %q", kind, letters, tc.wantKind, tc.wantLetters)
			}
		})
	}
}

func TestPersonalJSON(t *testing.T) {
	t.Parallel()
	for _, p := range []Personal{
		{Name: "张三", IDNumber: "11010519491231002X", Address: "新塘里96号"},
		{Name: "𠮷田", IDNumber: "E1", Phone: "13800138000", Address: "a", LandlordPhone: "13900139001"},
		{Name: `"<b>&'\`, IDNumber: "\x01", Address: "\u2028\u2029"},
		{Name: "bad \xff utf-8", Address: "\ufffd"},
		{},
	} {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := personalJSON(p); string(got) != string(want) {
			t.Errorf("personalJSON(%+v)\n got %s\nwant %s", p, got, want)
		}
	}
}
