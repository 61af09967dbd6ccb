package policy

// warehouseCondition is the order_item condition of the warehouse example
// (DESIGN.md, examples/warehouse/portcullis.yaml).
const warehouseCondition = `user.roles.exists(r, r == "warehouse_admin") && user.attrs.office == "head" && ip.in(request.ip, ["127.0.0.0/8", "::1/128", "10.0.0.0/8"])`

func warehouseSpec() Spec {
	return Spec{
		RoleScopes: map[string][]string{
			"warehouse_admin": {"list_items", "order_item"},
			"warehouse_staff": {"list_items"},
		},
		Conditions: map[string]string{"order_item": warehouseCondition},
	}
}

func alice() *User {
	return &User{ID: "alice", Roles: []string{"warehouse_admin"}, Attrs: map[string]string{"office": "head"}}
}

func bob() *User {
	return &User{ID: "bob", Roles: []string{"warehouse_staff"}, Attrs: map[string]string{"office": "regional"}}
}
