{# The few things DuckDB and PostgreSQL spell differently, in one place. #}

{# A text field of a JSON object column (the loaders store Graph references as JSON). #}
{% macro json_text(column, key) -%}
  {{ adapter.dispatch('json_text', 'meta_bm')(column, key) }}
{%- endmacro %}
{% macro default__json_text(column, key) -%}
  ({{ column }}::jsonb ->> '{{ key }}')
{%- endmacro %}
{% macro duckdb__json_text(column, key) -%}
  json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{# A list of strings as one sorted, comma-separated text ("ADVERTISE,MANAGE"; '' for an empty
   list), so that two reads of the same tasks compare equal: target-duckdb keeps the list as
   JSON, target-postgres as text[]. #}
{% macro json_list_text(column) -%}
  {{ adapter.dispatch('json_list_text', 'meta_bm')(column) }}
{%- endmacro %}
{% macro default__json_list_text(column) -%}
  array_to_string(array(select unnest({{ column }}) order by 1), ',')
{%- endmacro %}
{% macro duckdb__json_list_text(column) -%}
  array_to_string(list_sort(from_json({{ column }}, '["VARCHAR"]')), ',')
{%- endmacro %}

{# When a read began, from its id (the millisecond its run started), as a UTC timestamp. #}
{% macro read_time(read_id) -%}
  {{ adapter.dispatch('read_time', 'meta_bm')(read_id) }}
{%- endmacro %}
{% macro default__read_time(read_id) -%}
  (to_timestamp(cast({{ read_id }} as double precision) / 1000) at time zone 'UTC')
{%- endmacro %}
{% macro duckdb__read_time(read_id) -%}
  epoch_ms(cast({{ read_id }} as bigint))
{%- endmacro %}

{# The tasks of `tasks` that are also in `permitted` (both comma-separated, sorted): what a
   business's people can hold on a client's asset is within what the client permitted. #}
{% macro tasks_within(tasks, permitted) -%}
  {{ adapter.dispatch('tasks_within', 'meta_bm')(tasks, permitted) }}
{%- endmacro %}
{% macro default__tasks_within(tasks, permitted) -%}
  array_to_string(array(select unnest(string_to_array({{ tasks }}, ','))
                        intersect select unnest(string_to_array({{ permitted }}, ','))
                        order by 1), ',')
{%- endmacro %}
{% macro duckdb__tasks_within(tasks, permitted) -%}
  array_to_string(list_sort(list_intersect(string_split({{ tasks }}, ','),
                                           string_split({{ permitted }}, ','))), ',')
{%- endmacro %}

{# Whether a comma-separated task list holds `task`. #}
{% macro has_task(tasks, task) -%}
  (',' || coalesce({{ tasks }}, '') || ',' like '%,{{ task }},%')
{%- endmacro %}
