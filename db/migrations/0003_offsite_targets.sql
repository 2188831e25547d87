CREATE TABLE `offsite_copies` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`backup_id` integer NOT NULL,
	`target_id` integer NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`bytes_done` integer DEFAULT 0 NOT NULL,
	`bytes_total` integer DEFAULT 0 NOT NULL,
	`remote_key` text,
	`last_error` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`verified_at` integer,
	FOREIGN KEY (`backup_id`) REFERENCES `backups`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`target_id`) REFERENCES `offsite_targets`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `offsite_copies_backup_target_idx` ON `offsite_copies` (`backup_id`,`target_id`);--> statement-breakpoint
CREATE INDEX `offsite_copies_due_idx` ON `offsite_copies` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `offsite_targets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`endpoint` text DEFAULT '' NOT NULL,
	`region` text DEFAULT 'us-east-1' NOT NULL,
	`bucket` text NOT NULL,
	`prefix` text DEFAULT '' NOT NULL,
	`force_path_style` integer DEFAULT false NOT NULL,
	`storage_class` text,
	`enabled` integer DEFAULT true NOT NULL,
	`keep_count` integer,
	`keep_days` integer,
	`has_secret` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`last_test_at` integer,
	`last_test_ok` integer,
	`last_test_error` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `offsite_targets_name_unique` ON `offsite_targets` (`name`);