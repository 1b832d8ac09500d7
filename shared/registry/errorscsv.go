package registry

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// fieldLabels are the columns of a registry file as the error file names
// them, in the Chinese of the file's header.
var fieldLabels = map[string]string{
	"name": "姓名", "idType": "证件类型", "idNumber": "证件号码", "phone": "手机号",
	"town": "镇街", "community": "社区", "address": "地址", "residentType": "人员类型",
	"landlordPhone": "房东电话", FieldRow: "整行", "file": "文件", "header": "表头",
}

// reasonLabels say in Chinese what a reason code means.
var reasonLabels = map[string]string{
	"required":           "必填",
	"too_long":           "太长",
	"invalid_characters": "含有无效字符",
	"format":             "格式不对",
	"checksum":           "校验位不对",
	"birth_date":         "出生日期不对",
	"region":             "省份代码不对",
	"first_generation":   "一代身份证(15位)已停用",
	ReasonExcelNumber:    "被Excel转成了数字,请把该列设为文本",
	ReasonUnknown:        "无法识别",
	ReasonInvalid:        "不是有效的手机号",
	"malformed":          "引号不配对",
	"encoding":           "编码无法识别",
	"changed":            "文件在导入时被替换,新文件另行导入",
	"missing":            "文件在导入时被删除",
	"unknown_kind":       "目录没有说明名单类型(nat、residence_code、venue_code、other)",
	"no_rows":            "没有一行有效数据",
}

// WriteErrorsCSV writes refused rows as a CSV file Chinese Excel opens:
// UTF-8 with BOM, CRLF, the header 行号,字段,原因 (line, field, reason), the
// field by its Chinese column name and the reason in Chinese with its code.
// Row errors carry no values, so neither does the file.
func WriteErrorsCSV(w io.Writer, errs []RowError) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("\uFEFF")
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	cw.Write([]string{"行号", "字段", "原因"})
	for _, e := range errs {
		field := e.Field
		if l, ok := fieldLabels[field]; ok {
			field = l
		}
		reason := e.Reason
		if l, ok := reasonLabels[reason]; ok {
			reason = l + " (" + reason + ")"
		} else if col, ok := strings.CutPrefix(reason, "missing_"); ok && fieldLabels[col] != "" {
			reason = "缺少列" + fieldLabels[col] + " (" + reason + ")"
		} else if col, ok := strings.CutPrefix(reason, "duplicate_"); ok && fieldLabels[col] != "" {
			reason = "列" + fieldLabels[col] + "重复 (" + reason + ")"
		}
		cw.Write([]string{strconv.Itoa(e.Line), field, reason})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write registry errors: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write registry errors: %w", err)
	}
	return nil
}
