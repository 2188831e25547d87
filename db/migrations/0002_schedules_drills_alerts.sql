CREATE TABLE `alert_incidents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`opened_at` integer NOT NULL,
	`cleared_at` integer,
	`message` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_incidents_kind_idx` ON `alert_incidents` (`kind`,`cleared_at`);--> statement-breakpoint
CREATE TABLE `backup_plans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`backup_type` text NOT NULL,
	`include_config` integer DEFAULT false NOT NULL,
	`cron` text NOT NULL,
	`timezone` text NOT NULL,
	`full_every` integer,
	`drill_cron` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`last_slot_at` integer,
	`runs_since_full` integer DEFAULT 0 NOT NULL,
	`last_run_at` integer,
	`last_backup_id` integer,
	`last_result` text,
	`last_error` text,
	`last_drill_slot_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `backup_plans_name_unique` ON `backup_plans` (`name`);--> statement-breakpoint
CREATE TABLE `notification_channels` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`settings` text NOT NULL,
	`events` text NOT NULL,
	`has_secret` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`last_delivery_at` integer,
	`last_delivery_ok` integer,
	`last_delivery_error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_channels_name_unique` ON `notification_channels` (`name`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel_id` integer NOT NULL,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`channel_id`) REFERENCES `notification_channels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `notification_deliveries_due_idx` ON `notification_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `restore_drills` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`backup_id` integer,
	`backup_filename` text,
	`plan_id` integer,
	`actor_name` text NOT NULL,
	`status` text DEFAULT 'running' NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`duration_ms` integer,
	`file_count` integer,
	`bytes` integer,
	`error_message` text,
	`checks` text
);
--> statement-breakpoint
CREATE INDEX `restore_drills_started_idx` ON `restore_drills` (`started_at`);--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `scope` text DEFAULT 'full' NOT NULL;--> statement-breakpoint
ALTER TABLE `backups` ADD `plan_id` integer;--> statement-breakpoint
ALTER TABLE `backups` ADD `plan_name` text;