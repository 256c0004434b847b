-- Lead tables and the first version of the merge function (replaced in 20240312).

create table if not exists raw.lead_events (
    id bigint generated always as identity primary key,
    email text not null,
    batch_id uuid not null,
    payload jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now()
);

create table if not exists core.leads (
    id uuid primary key default gen_random_uuid(),
    email text unique not null,
    first_seen_at timestamptz,
    last_seen_at timestamptz
);

create or replace function public.merge_leads(p_batch_id uuid)
returns integer
language sql
as $$
    insert into core.leads (email) select distinct email from raw.lead_events where batch_id = p_batch_id
    on conflict (email) do nothing;
    select 1;
$$;

create or replace function public.purge_lead_archive()
returns void
language sql
as 'delete from core.lead_archive where archived_at < now() - interval ''2 years''';
