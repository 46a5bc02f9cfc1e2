\set n random(1, 20000)
select count(*) from printmq_apply_results('t', jsonb_build_array(jsonb_build_object('n', 0, 'job_id', (select id from ids where n = :n),
  'branch_id', 'b1', 'agent_id', 'a1', 'to', 'accepted', 'correlation_id', 'c', 'code', 202)), now(), :lifecycle::jsonb);
