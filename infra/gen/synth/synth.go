// Package synth makes up the personal details of synthetic people: Chinese
// names, mobile numbers, resident ID numbers and street addresses. Everything
// is drawn from a caller's *rand.Rand, so a seeded source gives the same
// people every run. None of it belongs to a real person.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"gridcode/shared/idcard"
)

// Rare is a given-name character outside the Basic Multilingual Plane (𠮷,
// U+20BB7). Real names carry such characters; a few synthetic ones do too,
// so UTF-16 and three-byte-UTF-8 assumptions break in tests, not in the field.
const Rare = "\U00020BB7"

// surnames are common surnames, weighted towards those of the Pearl River
// Delta; 司徒 and 欧阳 are compound surnames frequent around Jiangmen.
var surnames = []string{
	"陈", "李", "黄", "张", "梁", "林", "刘", "吴", "罗", "何", "郑", "谢", "冯", "邓", "叶",
	"王", "杨", "周", "赵", "徐", "孙", "胡", "朱", "高", "郭", "马", "钟", "余", "区", "麦",
	"甄", "关", "伍", "谭", "卢", "许", "曾", "彭", "蔡", "潘", "袁", "冼", "苏", "温", "容",
	"司徒", "欧阳", "余", "陈", "李", "黄", "梁",
}

// givenChars are characters common in given names.
var givenChars = []rune("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉立志新宇浩然子轩梓涵" +
	"欣怡晓雪嘉俊豪思颖佳琪诗婷锦荣家宝永健国耀雅慧少丹美玲海燕春秋冬梅淑珍凤仪德斌晨阳")

// Name returns a name of one or two surname characters and one or two given
// characters; about one name in 300 contains Rare.
func Name(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString(surnames[r.IntN(len(surnames))])
	n := 1 + r.IntN(2)
	rare := r.IntN(300) == 0
	for i := 0; i < n; i++ {
		if rare && i == n-1 {
			b.WriteString(Rare)
			continue
		}
		b.WriteRune(givenChars[r.IntN(len(givenChars))])
	}
	return b.String()
}

// mobilePrefixes are allocated three-digit mobile prefixes of the three
// mainland carriers.
var mobilePrefixes = []string{
	"134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "178",
	"182", "183", "187", "188", "198", "130", "131", "132", "155", "156", "166", "176", "185", "186",
	"133", "153", "173", "177", "180", "181", "189", "199",
}

// Mobile returns an 11-digit national mobile number.
func Mobile(r *rand.Rand) string {
	return mobilePrefixes[r.IntN(len(mobilePrefixes))] + fmt.Sprintf("%08d", r.IntN(100_000_000))
}

// HomeCounty is a county code that issues resident IDs, with a weight.
type HomeCounty struct {
	Code   string
	Weight int
}

// HomeCounties are where synthetic residents' IDs were issued: mostly
// Jiangmen and the rest of Guangdong, then the provinces migrant workers of
// the Pearl River Delta come from. Every code is in the area catalog.
var HomeCounties = []HomeCounty{
	{"440703", 30}, {"440704", 6}, {"440705", 10}, {"440781", 6}, {"440783", 5}, {"440784", 4}, {"440785", 3},
	{"440104", 2}, {"440106", 2}, {"440304", 1}, {"440604", 2}, {"440606", 2}, {"441900", 2}, {"442000", 2},
	{"440803", 2}, {"441702", 2}, {"445202", 2}, {"440513", 2}, {"441621", 2}, {"441802", 1}, {"445302", 1},
	{"450102", 3}, {"450103", 2}, {"430104", 2}, {"430602", 2}, {"360102", 2}, {"510104", 2}, {"420102", 2},
	{"520102", 2}, {"410102", 2}, {"350102", 1}, {"530102", 1}, {"460105", 1}, {"340102", 1}, {"610113", 1},
}

var homeTotal = func() int {
	t := 0
	for _, c := range HomeCounties {
		t += c.Weight
	}
	return t
}()

// PickHomeCounty draws an issuing county by weight.
func PickHomeCounty(r *rand.Rand) string {
	n := r.IntN(homeTotal)
	for _, c := range HomeCounties {
		if n < c.Weight {
			return c.Code
		}
		n -= c.Weight
	}
	return HomeCounties[0].Code
}

// ResidentID composes a GB 11643 number from a six-digit county code, a
// YYYYMMDD birth date and a three-digit sequence (odd for men, even for
// women), appending the check character.
func ResidentID(county, birth string, seq int) string {
	first := county + birth + fmt.Sprintf("%03d", seq%1000)
	return first + string(idcard.CheckDigit(first))
}

// lanes are stems of the lane names of old Jiangmen neighbourhoods.
var lanes = []string{
	"新塘", "长庚", "石冲", "仁寿", "紫莱", "培英", "堤中", "白石", "甘化", "丰乐", "水南", "竹排",
	"篁庄", "东华", "北街", "跃进", "聚德", "兴宁", "福泉", "迎宾", "建设", "胜利", "港口", "育德",
}

var laneKinds = []string{"里", "里", "巷", "坊", "街", "路"}

// Address returns a street address like 新塘里96号, sometimes with a flat
// (新塘里96号3栋502房).
func Address(r *rand.Rand) string {
	a := lanes[r.IntN(len(lanes))] + laneKinds[r.IntN(len(laneKinds))] + strconv.Itoa(1+r.IntN(200)) + "号"
	if r.IntN(3) == 0 {
		a += strconv.Itoa(1+r.IntN(12)) + "栋" + strconv.Itoa(1+r.IntN(18)) + fmt.Sprintf("%02d", 1+r.IntN(6)) + "房"
	}
	return a
}
