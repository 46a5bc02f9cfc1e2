-- One tenant, branch, agent and printer.
insert into tenants (id) values ('t');
insert into branches (tenant_id, id) values ('t', 'b1');
insert into agents (tenant_id, branch_id, id, license_hash, license_issued_at) values ('t', 'b1', 'a1', 'x', now());
insert into printers (tenant_id, branch_id, id, agent_id, model, connection, width)
  values ('t', 'b1', 'p1', 'a1', 'epson', '{"type":"tcp","host":"127.0.0.1","port":9100}', 48);
