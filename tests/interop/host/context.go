package main

// JSON shapes of the commands' plugin_context and queries, and their
// conversion to the SDK v0.88.0 pluginv2 messages Plutono sends
// (contract 2.4.1 for the fields Plutono fills in).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

type userJSON struct {
	Login string `json:"login"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Role  string `json:"role"`
}

type datasourceJSON struct {
	ID                      int64             `json:"id"`
	UID                     string            `json:"uid"`
	Name                    string            `json:"name"`
	URL                     string            `json:"url"`
	User                    string            `json:"user"`
	Database                string            `json:"database"`
	BasicAuthEnabled        bool              `json:"basic_auth_enabled"`
	BasicAuthUser           string            `json:"basic_auth_user"`
	JSONData                json.RawMessage   `json:"json_data"`
	JSONDataText            *string           `json:"json_data_text"`
	DecryptedSecureJSONData map[string]string `json:"decrypted_secure_json_data"`
	LastUpdatedMS           int64             `json:"last_updated_ms"`
}

type appJSON struct {
	JSONData                json.RawMessage   `json:"json_data"`
	JSONDataText            *string           `json:"json_data_text"`
	DecryptedSecureJSONData map[string]string `json:"decrypted_secure_json_data"`
	LastUpdatedMS           int64             `json:"last_updated_ms"`
}

// pluginContextJSON is the "plugin_context" argument. It is taken
// literally (absent user/datasource/app stay unset) except that an empty
// plugin_id becomes the started plugin's id.
type pluginContextJSON struct {
	OrgID      int64           `json:"org_id"`
	PluginID   string          `json:"plugin_id"`
	User       *userJSON       `json:"user"`
	Datasource *datasourceJSON `json:"datasource"`
	App        *appJSON        `json:"app"`
}

// jsonBytes picks the exact text if given, else the re-encoded value.
func jsonBytes(value json.RawMessage, text *string) []byte {
	if text != nil {
		return []byte(*text)
	}
	return []byte(value)
}

// hostStarted is the "updated" time of the default datasource.
var hostStarted = time.Now().UnixNano() / int64(time.Millisecond)

// defaultPluginContext is what a signed-in admin's datasource request looks
// like in Plutono 7.5: org 1, a user, datasource settings without uid.
func defaultPluginContext(pluginID string) *pluginv2.PluginContext {
	return &pluginv2.PluginContext{
		OrgId:    1,
		PluginId: pluginID,
		User:     &pluginv2.User{Login: "admin", Name: "admin", Email: "admin@localhost", Role: "Admin"},
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id:                      1,
			Name:                    pluginID,
			JsonData:                []byte("{}"),
			DecryptedSecureJsonData: map[string]string{},
			LastUpdatedMS:           hostStarted,
		},
	}
}

func (c *pluginContextJSON) toProto(pluginID string) *pluginv2.PluginContext {
	if c == nil {
		return defaultPluginContext(pluginID)
	}
	out := &pluginv2.PluginContext{OrgId: c.OrgID, PluginId: c.PluginID}
	if out.PluginId == "" {
		out.PluginId = pluginID
	}
	if c.User != nil {
		out.User = &pluginv2.User{Login: c.User.Login, Name: c.User.Name, Email: c.User.Email, Role: c.User.Role}
	}
	if d := c.Datasource; d != nil {
		out.DataSourceInstanceSettings = &pluginv2.DataSourceInstanceSettings{
			Id: d.ID, Uid: d.UID, Name: d.Name, Url: d.URL, User: d.User, Database: d.Database,
			BasicAuthEnabled: d.BasicAuthEnabled, BasicAuthUser: d.BasicAuthUser,
			JsonData: jsonBytes(d.JSONData, d.JSONDataText), DecryptedSecureJsonData: d.DecryptedSecureJSONData,
			LastUpdatedMS: d.LastUpdatedMS,
		}
	}
	if a := c.App; a != nil {
		out.AppInstanceSettings = &pluginv2.AppInstanceSettings{
			JsonData: jsonBytes(a.JSONData, a.JSONDataText), DecryptedSecureJsonData: a.DecryptedSecureJSONData,
			LastUpdatedMS: a.LastUpdatedMS,
		}
	}
	return out
}

// queryJSON is one element of "queries". Absent numbers take the defaults
// Plutono applies to /api/ds/query (maxDataPoints 100, intervalMs 1000);
// send 0 explicitly to look like an alerting query (contract 2.4.2).
type queryJSON struct {
	RefID         *string         `json:"ref_id"`
	QueryType     string          `json:"query_type"`
	JSON          json.RawMessage `json:"json"`
	JSONText      *string         `json:"json_text"`
	FromMS        *int64          `json:"from_ms"`
	ToMS          *int64          `json:"to_ms"`
	IntervalMS    *int64          `json:"interval_ms"`
	MaxDataPoints *int64          `json:"max_data_points"`
	// PadBytes, when set, replaces the query JSON by {"pad": "xxx..."} of about
	// that many bytes (an oversized request without shipping it through the
	// command pipe).
	PadBytes int64 `json:"pad_bytes"`
}

func orDefault(v *int64, def int64) int64 {
	if v == nil {
		return def
	}
	return *v
}

func (q queryJSON) toProto(index int) (*pluginv2.DataQuery, error) {
	refID := "A"
	if q.RefID != nil {
		refID = *q.RefID
	}
	now := time.Now().UnixNano() / int64(time.Millisecond)
	to := orDefault(q.ToMS, now)
	body := jsonBytes(q.JSON, q.JSONText)
	if q.PadBytes > 0 {
		body = append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), int(q.PadBytes))...), `"}`...)
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !json.Valid(body) && q.JSONText == nil {
		return nil, fmt.Errorf("queries[%d].json is not valid JSON", index)
	}
	return &pluginv2.DataQuery{
		RefId:         refID,
		QueryType:     q.QueryType,
		MaxDataPoints: orDefault(q.MaxDataPoints, 100),
		IntervalMS:    orDefault(q.IntervalMS, 1000),
		TimeRange:     &pluginv2.TimeRange{FromEpochMS: orDefault(q.FromMS, to-3600*1000), ToEpochMS: to},
		Json:          body,
	}, nil
}
