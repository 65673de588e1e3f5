package store

import (
	"encoding/json"
	"fmt"
)

// GetJSON reads and decodes one JSON record; ErrNotFound passes through.
func GetJSON[T any](tx ReadTx, key string) (*T, error) {
	kv, err := tx.Get(key)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(kv.Value, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

// ListJSON decodes every JSON record under prefix, in key order.
func ListJSON[T any](tx ReadTx, prefix string) ([]*T, error) {
	kvs, err := tx.List(prefix)
	if err != nil {
		return nil, err
	}
	out := make([]*T, 0, len(kvs))
	for _, kv := range kvs {
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// PutJSON encodes and writes one JSON record.
func PutJSON(tx Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return tx.Put(key, b)
}
