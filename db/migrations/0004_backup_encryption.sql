ALTER TABLE `backups` ADD `encryption` text;--> statement-breakpoint
ALTER TABLE `backups` ADD `encryption_recipients` text;--> statement-breakpoint
ALTER TABLE `backups` ADD `encryption_key_id` text;--> statement-breakpoint
ALTER TABLE `backups` ADD `verify_scope` text;